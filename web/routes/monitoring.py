"""/metrics for Prometheus: from loopback, or with the configured bearer token."""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from web import errors
from web.keys import METRICS, SETTINGS

routes = web.RouteTableDef()


def _allowed(request: web.Request) -> bool:
    token = request.app[SETTINGS].metrics_token
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent, f"Bearer {token}")
    try:
        return request.remote is not None and ip_address(request.remote).is_loopback
    except ValueError:
        return False


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    if not _allowed(request):
        raise errors.Forbidden("metrics are served to loopback or with the metrics token")
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
