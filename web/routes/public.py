"""Routes anyone may reach: health, login and logout, language switch, the root."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from audit import log as audit
from kyc import face_pad
from loans.roles import Role
from web import errors, readiness
from web.actions import WebAction
from web.auth.passwords import verify_password
from web.auth.sessions import COOKIE_NAME
from web.auth.throttle import throttle_keys
from web.auth.users import get_user
from web.guards import principal_of
from web.i18n import LANGUAGE_COOKIE, LANGUAGES
from web.keys import (
    BLOBS,
    CALLS,
    ENGINE,
    FACE_MODEL,
    IDENTITY_SOURCES,
    KYC_WORKERS,
    REQUEST_ID,
    SESSION,
    SESSIONS,
    SETTINGS,
    THROTTLE,
)
from web.middleware import request_is_tls
from web.render import render
from web.schemas import LoginBody, parse_body

routes = web.RouteTableDef()

PRELOGIN_COOKIE = "signroom_prelogin"

HOME_BY_ROLE = {
    Role.MANAGER: "/manager",
    Role.COMPLIANCE: "/compliance",
    Role.ADMIN: "/admin/users",
    Role.APPLICANT: "/apply",
}


def local_path(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=http_only,
        secure=request_is_tls(request),
        samesite="Lax",
        path="/",
    )


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    calls = request.app[CALLS]
    directories = [settings.data_dir, settings.recordings_dir]
    if settings.s3_location is None:
        directories.append(settings.blob_dir)
    database, blob_store = await asyncio.gather(
        readiness.database(request.app[ENGINE]), readiness.blob_store(request.app[BLOBS])
    )
    checks = {
        "database": database,
        "blob_store": blob_store,
        "disk": readiness.disk(directories, settings.min_free_disk_mb * 1024 * 1024),
        "cluster": readiness.cluster(calls),
        "identity_checks": request.app[KYC_WORKERS].status(),
    }
    problems = [f"{name}: {c['problem']}" for name, c in checks.items() if not c["ok"]]
    body: dict[str, Any] = {
        "status": "not_ready" if problems else "ready",
        "node": calls.node_id,
        "checks": checks,
        "face_model": request.app[FACE_MODEL].as_json(),
        "pad_model": face_pad.DESCRIPTION,
        "identity_sources": request.app[IDENTITY_SOURCES].as_json(),
    }
    if problems:
        body.update(code="not_ready", message="; ".join(problems))
    return web.json_response(body, status=503 if problems else 200)


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is None:
        raise web.HTTPFound("/login")
    raise web.HTTPFound(HOME_BY_ROLE[session.principal.role])


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None and session.principal.role is not Role.APPLICANT:
        raise web.HTTPFound(HOME_BY_ROLE[session.principal.role])
    # Login CSRF: the form must echo a value only this site's page could read.
    prelogin = request.cookies.get(PRELOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        prelogin_token=prelogin,
        next_path=local_path(request.query.get("next"), ""),
    )
    set_cookie(request, response, PRELOGIN_COOKIE, prelogin, max_age=3600)
    return response


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    expected = request.cookies.get(PRELOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(
        request.headers.get("X-CSRF-Token", ""), expected
    ):
        raise errors.CsrfFailed("reload the sign-in page and try again")
    body = await parse_body(request, LoginBody)
    engine = request.app[ENGINE]
    throttle = request.app[THROTTLE]
    client = request.remote or "unknown"
    keys = throttle_keys(body.username, client)
    request_id = request.get(REQUEST_ID)
    wait, claimed = await throttle.claim(keys)
    if wait:
        async with engine.begin() as conn:
            await audit.append(
                conn,
                audit.ANONYMOUS,
                WebAction.LOGIN_THROTTLED,
                request_id=request_id,
                details={"username": body.username[:64]},
            )
        raise errors.TooManyRequests("too many failed sign-ins; try again later", retry_after=wait)
    user = await get_user(engine, username=body.username)
    password_ok = await verify_password(user.password_hash if user else None, body.password)
    if user is None or not password_ok or user.disabled:
        async with engine.begin() as conn:
            await audit.append(
                conn,
                audit.ANONYMOUS,
                WebAction.LOGIN_FAILED,
                request_id=request_id,
                details={
                    "username": body.username[:64],
                    "reason": "disabled" if user and password_ok else "bad credentials",
                },
            )
        raise errors.LoginFailed("wrong username or password")
    await throttle.succeeded(claimed, keys[0])
    token = await request.app[SESSIONS].start_staff(user.id)
    async with engine.begin() as conn:
        await audit.append(
            conn,
            audit.Actor(f"user:{user.id}", user.role.value),
            WebAction.LOGIN,
            request_id=request_id,
            details={"username": user.username},
        )
    response = web.json_response({"redirect": HOME_BY_ROLE[user.role], "role": user.role.value})
    set_cookie(request, response, COOKIE_NAME, token)
    response.del_cookie(PRELOGIN_COOKIE, path="/")
    return response


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    principal = principal_of(request)
    token = request.cookies.get(COOKIE_NAME, "")
    await request.app[SESSIONS].end(token)
    async with request.app[ENGINE].begin() as conn:
        await audit.append(
            conn,
            principal.actor,
            WebAction.LOGOUT,
            application_id=principal.application_id,
            request_id=request.get(REQUEST_ID),
        )
    response = web.json_response({"redirect": "/login"})
    response.del_cookie(COOKIE_NAME, path="/")
    return response


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    principal_of(request)
    session = request[SESSION]
    return web.json_response(
        {
            "role": session.principal.role.value,
            "user_id": session.principal.user_id,
            "username": session.username,
            "display_name": session.display_name,
            "application_id": session.principal.application_id,
            "csrf_token": session.csrf_token,
        }
    )


@routes.get("/lang/{code}")
async def switch_language(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    if code not in LANGUAGES:
        raise errors.NotFound("unknown language")
    response = web.HTTPFound(local_path(request.query.get("next"), "/"))
    set_cookie(request, response, LANGUAGE_COOKIE, code, max_age=365 * 86400, http_only=False)
    raise response
