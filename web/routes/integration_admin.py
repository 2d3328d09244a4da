"""Admin: API keys for the bank's systems, webhook subscribers and their delivery log."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from integration import webhooks
from integration.events import EventType
from loans.roles import Role
from web import errors
from web.auth import api_keys
from web.guards import principal_of, requires
from web.keys import ENGINE, REQUEST_ID, SETTINGS
from web.render import render
from web.schemas import Body, parse_body

routes = web.RouteTableDef()


class NewKeyBody(Body):
    name: str = Field(max_length=100)
    username: str = Field(max_length=64, description="the manager the key acts for")
    scopes: list[str] = Field(max_length=10)


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
    key, plain = await api_keys.create_key(
        request.app[ENGINE],
        principal_of(request).actor,
        name=body.name,
        scopes=scopes,
        username=body.username,
        request_id=request.get(REQUEST_ID),
    )
    answer: dict[str, Any] = key.as_json()
    answer["key"] = plain  # shown once
    return web.json_response(answer, status=201)


@routes.post("/api/admin/api-keys/{key_id}/revoke")
@requires(Role.ADMIN)
async def revoke_key(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    await api_keys.revoke_key(
        request.app[ENGINE],
        principal_of(request).actor,
        request.match_info["key_id"],
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response({"revoked": True})


class NewWebhookBody(Body):
    url: str = Field(max_length=2000)
    events: list[str] = Field(max_length=10)


@routes.get("/api/admin/webhooks")
@requires(Role.ADMIN)
async def list_webhooks(request: web.Request) -> web.Response:
    return web.json_response(await webhooks.list_subscriptions(request.app[ENGINE]))


@routes.post("/api/admin/webhooks")
@requires(Role.ADMIN)
async def create_webhook(request: web.Request) -> web.Response:
    body = await parse_body(request, NewWebhookBody)
    try:
        events = {EventType(e) for e in body.events}
    except ValueError:
        raise errors.ValidationFailed(
            "unknown event type", details={"allowed": sorted(e.value for e in EventType)}
        ) from None
    subscription_id, secret = await webhooks.subscribe(
        request.app[ENGINE],
        principal_of(request).actor,
        body.url,
        events,
        request.app[SETTINGS].webhooks.destinations,
        request_id=request.get(REQUEST_ID),
    )
    # The secret is shown once; receivers verify signatures with it.
    return web.json_response({"id": subscription_id, "secret": secret}, status=201)


@routes.post("/api/admin/webhooks/{subscription_id}/disable")
@requires(Role.ADMIN)
async def disable_webhook(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    await webhooks.disable(
        request.app[ENGINE],
        principal_of(request).actor,
        request.match_info["subscription_id"],
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response({"disabled": True})


DELIVERY_STATES = ("pending", "delivered", "failed")


@routes.get("/api/admin/webhook-deliveries")
@requires(Role.ADMIN)
async def deliveries(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status is not None and status not in DELIVERY_STATES:
        raise errors.BadRequest(f"status is one of {', '.join(DELIVERY_STATES)}")
    return web.json_response(await webhooks.delivery_log(request.app[ENGINE], status=status))


@routes.get("/admin/webhooks")
@requires(Role.ADMIN)
async def webhooks_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return render(
        request,
        "admin_webhooks.html",
        subscriptions=await webhooks.list_subscriptions(engine),
        deliveries=await webhooks.delivery_log(engine),
    )
