"""Admin: contract template versions, and revoking certificates of the service CA."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web
from pydantic import Field

from loans.roles import Role
from signing import certificate_register, templates
from web import errors
from web.guards import principal_of, requires
from web.keys import CONTRACT_RENDERER, ENGINE, REQUEST_ID, SIGNING
from web.render import render
from web.schemas import Body, parse_body

routes = web.RouteTableDef()


class TemplateBody(Body):
    body: str = Field(min_length=1, max_length=60_000)
    note: str = Field(min_length=1, max_length=200)


class RevokeBody(Body):
    reason: str = Field(max_length=40)


def template_json(template: templates.Template, *, with_body: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": template.version,
        "note": template.note,
        "created_by": template.created_by,
        "created_at": template.created_at.isoformat(timespec="seconds"),
        "body_sha256": hashlib.sha256(template.body.encode()).hexdigest(),
    }
    if with_body:
        data["body"] = template.body
    return data


@routes.get("/admin/templates")
@requires(Role.ADMIN)
async def templates_page(request: web.Request) -> web.Response:
    current = await templates.current_template(request.app[ENGINE])
    return render(
        request,
        "admin_templates.html",
        templates=await templates.list_templates(request.app[ENGINE]),
        current=current,
    )


@routes.get("/api/admin/contract-templates")
@requires(Role.ADMIN)
async def list_templates(request: web.Request) -> web.Response:
    found = await templates.list_templates(request.app[ENGINE])
    return web.json_response([template_json(t, with_body=False) for t in found])


@routes.get("/api/admin/contract-templates/{version:[0-9]{1,6}}")
@requires(Role.ADMIN)
async def get_template(request: web.Request) -> web.Response:
    template = await templates.get_template(request.app[ENGINE], int(request.match_info["version"]))
    if template is None:
        raise errors.NotFound("no such template version")
    return web.json_response(template_json(template, with_body=True))


@routes.post("/api/admin/contract-templates")
@requires(Role.ADMIN)
async def save_template(request: web.Request) -> web.Response:
    body = await parse_body(request, TemplateBody)
    template = await templates.save_template(
        request.app[ENGINE],
        request.app[CONTRACT_RENDERER],
        principal_of(request).actor,
        body.body,
        body.note,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(template_json(template, with_body=False), status=201)


@routes.post("/api/admin/certificates/{serial:[0-9]{1,60}}/revoke")
@requires(Role.ADMIN)
async def revoke_certificate(request: web.Request) -> web.Response:
    body = await parse_body(request, RevokeBody)
    serial = int(request.match_info["serial"])
    await certificate_register.revoke(
        request.app[ENGINE],
        principal_of(request).actor,
        serial,
        body.reason,
        request.app[SIGNING].service_serials(),
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response({"serial": str(serial), "revoked": True, "reason": body.reason})
