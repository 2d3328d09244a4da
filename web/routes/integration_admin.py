"""Admin: API keys for the bank's systems, webhook subscribers and their delivery log."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from loans.roles import Role
from web import errors
from web.auth import api_keys
from web.auth.users import UserError
from web.guards import principal_of, requires
from web.keys import ENGINE, REQUEST_ID
from web.schemas import Body, parse_body

routes = web.RouteTableDef()


class NewKeyBody(Body):
    name: str = Field(max_length=100)
    username: str = Field(max_length=64, description="the manager the key acts for")
    scopes: list[str] = Field(max_length=10)


def _user_error(exc: UserError) -> errors.ApiError:
    error = errors.ValidationFailed(str(exc))
    error.code = "invalid_api_key_request"
    return error


@routes.get("/api/admin/api-keys")
@requires(Role.ADMIN)
async def list_keys(request: web.Request) -> web.Response:
    return web.json_response([k.as_json() for k in await api_keys.list_keys(request.app[ENGINE])])


@routes.post("/api/admin/api-keys")
@requires(Role.ADMIN)
async def create_key(request: web.Request) -> web.Response:
    body = await parse_body(request, NewKeyBody)
    try:
        scopes = {api_keys.Scope(s) for s in body.scopes}
    except ValueError:
        raise errors.ValidationFailed(
            "unknown scope", details={"allowed": sorted(s.value for s in api_keys.Scope)}
        ) from None
    try:
        key, plain = await api_keys.create_key(
            request.app[ENGINE],
            principal_of(request).actor,
            name=body.name,
            scopes=scopes,
            username=body.username,
            request_id=request.get(REQUEST_ID),
        )
    except UserError as exc:
        raise _user_error(exc) from None
    answer: dict[str, Any] = key.as_json()
    answer["key"] = plain  # shown once
    return web.json_response(answer, status=201)


@routes.post("/api/admin/api-keys/{key_id}/revoke")
@requires(Role.ADMIN)
async def revoke_key(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    try:
        await api_keys.revoke_key(
            request.app[ENGINE],
            principal_of(request).actor,
            request.match_info["key_id"],
            request_id=request.get(REQUEST_ID),
        )
    except UserError as exc:
        raise errors.NotFound(str(exc)) from None
    return web.json_response({"revoked": True})
