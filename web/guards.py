"""Route guards: which roles may call a handler. Unauthenticated API calls get 401,
pages redirect to the login; a wrong role gets 403 and an audit entry."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from loans.access import Principal
from loans.applications import record_denial
from loans.roles import Role
from web import errors
from web.auth.sessions import Session
from web.keys import ENGINE, REQUEST_ID, SESSION

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def principal_of(request: web.Request) -> Principal:
    session: Session | None = request.get(SESSION)
    if session is None:
        raise errors.Unauthenticated("sign in first")
    return session.principal


def route_template(request: web.Request) -> str:
    """The route's pattern (`/api/applications/{id}`), never the concrete path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "?"


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            principal = principal_of(request)
            if principal.role not in allowed:
                await record_denial(
                    request.app[ENGINE],
                    principal,
                    f"{request.method} {route_template(request)}",
                    request_id=request.get(REQUEST_ID),
                )
                raise errors.Forbidden("your role may not do this")
            return await handler(request)

        return guarded

    return decorate
