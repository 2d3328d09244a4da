"""API-key authentication for /api/v1, per-call audit entries, and idempotent creates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from audit import log as audit
from loans.access import Principal
from loans.applications import record_denial
from loans.roles import Role
from store.schema import idempotency_keys
from web import errors
from web.actions import WebAction
from web.auth.api_keys import ApiKey, Scope, authenticate
from web.keys import API_KEY, ENGINE, REQUEST_ID

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v1/"
PUBLIC = frozenset({"/api/v1/openapi.json"})
MAX_IDEMPOTENCY_KEY = 100


def is_api(request: web.Request) -> bool:
    return request.path.startswith(API_PREFIX)


@web.middleware
async def api_key_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate /api/v1 calls by API key and audit each one; other paths pass."""
    if not is_api(request) or request.path in PUBLIC:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    key = await authenticate(request.app[ENGINE], presented.strip()) if scheme == "Bearer" else None
    if key is None:
        raise errors.Unauthenticated("send a valid API key as 'Authorization: Bearer srk_...'")
    request[API_KEY] = key
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except errors.ApiError as exc:
        status = exc.status
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception as exc:
        # Domain errors become API errors in the outer middleware: record the
        # status the client will get, not a 500 it never saw.
        mapped = errors.from_domain(exc)
        if mapped is not None:
            status = mapped.status
        raise
    finally:
        resource = request.match_info.route.resource
        async with request.app[ENGINE].begin() as conn:
            await audit.append(
                conn,
                audit.Actor(f"api_key:{key.id}", Role.MANAGER.value),
                WebAction.API_CALL,
                application_id=request.match_info.get("id"),
                request_id=request.get(REQUEST_ID),
                details={
                    "method": request.method,
                    "route": resource.canonical if resource is not None else "unmatched",
                    "status": status,
                },
            )


async def api_principal(request: web.Request, scope: Scope) -> Principal:
    """The manager the key acts for, if the key holds `scope`."""
    key: ApiKey = request[API_KEY]
    principal = Principal(Role.MANAGER, user_id=key.user_id)
    if scope not in key.scopes:
        await record_denial(
            request.app[ENGINE],
            principal,
            f"api {request.method} {request.path} without scope {scope.value}",
            request_id=request.get(REQUEST_ID),
        )
        raise errors.Forbidden(f"this API key lacks the {scope.value} scope")
    return principal


async def idempotent(
    request: web.Request, body: bytes, work: Callable[[], Awaitable[web.Response]]
) -> web.Response:
    """With an Idempotency-Key header, run `work` once per key: a retry with the same
    request gets the first answer again; the same key on a different request is refused."""
    name = request.headers.get("Idempotency-Key")
    if name is None:
        return await work()
    if not 1 <= len(name) <= MAX_IDEMPOTENCY_KEY or not name.isprintable():
        raise errors.BadRequest("Idempotency-Key must be 1 to 100 printable characters")
    key: ApiKey = request[API_KEY]
    fingerprint = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + body
    ).hexdigest()
    engine = request.app[ENGINE]
    try:
        async with engine.begin() as conn:
            # Claimed before the work, so two racing retries cannot both run it.
            await conn.execute(
                idempotency_keys.insert().values(
                    api_key_id=key.id,
                    key=name,
                    request_sha256=fingerprint,
                    status=0,
                    body="",
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        return await _replay(request, name, fingerprint)
    try:
        response = await work()
    except Exception as exc:
        answer = exc if isinstance(exc, errors.ApiError) else errors.from_domain(exc)
        if answer is not None:
            error_body = json.dumps(answer.body(request.get(REQUEST_ID)))
            await _remember(request, name, answer.status, error_body)
            raise
        async with engine.begin() as conn:
            await conn.execute(
                idempotency_keys.delete().where(
                    idempotency_keys.c.api_key_id == key.id, idempotency_keys.c.key == name
                )
            )
        raise
    assert response.text is not None
    await _remember(request, name, response.status, response.text)
    return response


async def _remember(request: web.Request, name: str, status: int, body: str) -> None:
    key: ApiKey = request[API_KEY]
    async with request.app[ENGINE].begin() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.api_key_id == key.id, idempotency_keys.c.key == name)
            .values(status=status, body=body)
        )


async def _replay(request: web.Request, name: str, fingerprint: str) -> web.Response:
    key: ApiKey = request[API_KEY]
    async with request.app[ENGINE].connect() as conn:
        row = (
            (
                await conn.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.api_key_id == key.id, idempotency_keys.c.key == name
                    )
                )
            )
            .mappings()
            .one()
        )
    if row["request_sha256"] != fingerprint:
        error = errors.Conflict("this Idempotency-Key was used for a different request")
        error.code = "idempotency_key_reused"
        raise error
    if row["status"] == 0:
        error = errors.Conflict("a request with this Idempotency-Key is still running")
        error.code = "idempotency_key_in_progress"
        raise error
    return web.Response(
        status=row["status"],
        text=row["body"],
        content_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )
