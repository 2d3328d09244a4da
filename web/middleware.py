"""Middlewares, outermost first: request id, error rendering, security headers,
session loading with CSRF and Origin checks."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict

from web import errors
from web.api_auth import API_PREFIX
from web.auth.sessions import COOKIE_NAME
from web.error_text import page_message
from web.i18n import DEFAULT_LANGUAGE, pick_language, translate
from web.keys import LANGUAGE, METRICS, REQUEST_ID, SESSION, SESSIONS, SETTINGS
from web.render import render

log = logging.getLogger("signroom.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request[REQUEST_ID] = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
    request[LANGUAGE] = pick_language(request)
    response = await handler(request)
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    return response


_HTTP_TO_API: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}


def _api_error_for(exc: web.HTTPException) -> errors.ApiError:
    kind = _HTTP_TO_API.get(exc.status, errors.BadRequest)
    message = {
        404: "no such resource",
        405: "method not allowed here",
        413: "request body too large",
    }.get(exc.status, exc.reason or "bad request")
    error = kind(message)
    error.status = exc.status
    return error


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as JSON (API) or a page (browser); nothing escapes as a
    bare 500, and nothing about the failure but its request id reaches the client."""
    try:
        return await handler(request)
    except errors.ApiError as exc:
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(request, _api_error_for(exc))
        if isinstance(exc, web.HTTPMethodNotAllowed):
            # RFC 9110: a 405 names the methods the resource does support.
            response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    except Exception as exc:
        domain = errors.from_domain(exc)
        if domain is not None:
            return error_response(request, domain)
        log.exception("unhandled error", extra={"request_id": request.get(REQUEST_ID)})
        internal = errors.ApiError("internal error; quote the request id to support")
        internal.status = 500
        internal.code = "internal_error"
        return error_response(request, internal)


def error_response(request: web.Request, exc: errors.ApiError) -> web.StreamResponse:
    request_id = request.get(REQUEST_ID)
    language = request.get(LANGUAGE, DEFAULT_LANGUAGE)
    if not request.path.startswith(API_PREFIX):
        exc.message = page_message(exc.code, exc.details, language) or exc.message
    headers: CIMultiDict[str] = CIMultiDict()
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    wants_page = (
        not is_api(request)
        and request.method in SAFE_METHODS
        and "application/json" not in request.headers.get("Accept", "")
    )
    if not wants_page:
        return web.json_response(exc.body(request_id), status=exc.status, headers=headers)
    if exc.status == 401:
        raise web.HTTPFound("/login?" + urlencode({"next": request.path}))
    # Literal keys, so Babel's extraction sees them.
    if exc.status == 404:
        title = translate(language, "not_found")
    elif exc.status == 403:
        title = translate(language, "forbidden")
    else:
        title = translate(language, "error_title")
    response = render(
        request,
        "error.html",
        status=exc.status,
        title=title,
        message=exc.message,
    )
    response.headers.extend(headers)
    return response


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
    if is_api(request) or request.path.startswith(("/manager", "/staff", "/admin", "/apply")):
        headers.setdefault("Cache-Control", "no-store")
    if request_is_tls(request):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def request_is_tls(request: web.Request) -> bool:
    if request.secure:
        return True
    settings = request.app[SETTINGS]
    return (
        settings.trust_forwarded_proto
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    )


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the live session, and refuse state-changing requests that come from
    another origin or, with a session, lack its CSRF token."""
    if request.path.startswith("/api/v1/"):
        # API-key clients: no cookie session, so nothing for a browser to forge.
        return await handler(request)
    unsafe = request.method not in SAFE_METHODS
    if unsafe:
        check_origin(request)
    token = request.cookies.get(COOKIE_NAME)
    if token:
        session = await request.app[SESSIONS].resolve(token)
        if session is not None:
            request[SESSION] = session
            if unsafe and not hmac.compare_digest(
                request.headers.get("X-CSRF-Token", ""), session.csrf_token
            ):
                raise errors.CsrfFailed("missing or wrong CSRF token; reload the page")
    return await handler(request)


def check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    settings = request.app[SETTINGS]
    scheme = "https" if request_is_tls(request) else request.scheme
    allowed = {settings.public_origin, f"{scheme}://{request.host}"}
    if origin not in allowed:
        raise errors.Forbidden("cross-origin request refused")


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency by route template (never the path: it may carry ids or tokens)."""
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[METRICS].http.labels(request.method, route, str(status)).observe(
            time.perf_counter() - start
        )
