"""/api/v1: the versioned API for the bank's own systems (API keys; see web/openapi.py).

Every route here is described in the OpenAPI document, and a test keeps the two in
step; request and response bodies are the pydantic models below.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from loans import applications as apps
from loans import invites
from loans.models import ApplicationInput
from loans.states import Action
from signing import contracts as contract_records
from web import errors
from web.api_auth import api_principal, idempotent
from web.api_models import ApplicationOut, CancelBody, ContractOut, InviteOut
from web.auth.api_keys import Scope
from web.keys import BLOBS, ENGINE, REQUEST_ID, SETTINGS
from web.openapi import openapi_document
from web.paging import paging, state_filter
from web.routes.documents import kyc_summary
from web.schemas import NewApplicationBody, parse_body
from web.views import application_json, iso

routes = web.RouteTableDef()


def _application(body: dict[str, Any]) -> dict[str, Any]:
    return ApplicationOut.model_validate(body).model_dump()


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[SETTINGS].public_url))


@routes.post("/api/v1/applications")
async def create_application(request: web.Request) -> web.Response:
    principal = await api_principal(request, Scope.APPLICATIONS_WRITE)
    raw = await request.read()

    async def work() -> web.Response:
        body = await parse_body(request, NewApplicationBody)
        data = ApplicationInput.parse(**body.model_dump())
        app = await apps.create_application(
            request.app[ENGINE], principal, data, request_id=request.get(REQUEST_ID)
        )
        return web.json_response(_application(application_json(app, principal)), status=201)

    return await idempotent(request, raw, work)


@routes.get("/api/v1/applications")
async def list_applications(request: web.Request) -> web.Response:
    principal = await api_principal(request, Scope.APPLICATIONS_READ)
    offset, limit = paging(request)
    if request.query.get("state") == "":
        raise errors.BadRequest("state must name a state; leave it out for all")
    page = await apps.list_applications(
        request.app[ENGINE], principal, state=state_filter(request), offset=offset, limit=limit
    )
    return web.json_response(
        {
            "items": [_application(application_json(a, principal)) for a in page.items],
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
        }
    )


@routes.get("/api/v1/applications/{id}")
async def get_application(request: web.Request) -> web.Response:
    principal = await api_principal(request, Scope.APPLICATIONS_READ)
    app = await apps.get_application(
        request.app[ENGINE], principal, request.match_info["id"], request_id=request.get(REQUEST_ID)
    )
    return web.json_response(_application(application_json(app, principal)))


@routes.post("/api/v1/applications/{id}/cancel")
async def cancel_application(request: web.Request) -> web.Response:
    principal = await api_principal(request, Scope.APPLICATIONS_WRITE)
    body = await parse_body(request, CancelBody)
    app = await apps.act(
        request.app[ENGINE],
        principal,
        request.match_info["id"],
        Action.CANCEL,
        comment=body.reason,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(_application(application_json(app, principal)))


@routes.post("/api/v1/applications/{id}/invites")
async def create_invite(request: web.Request) -> web.Response:
    principal = await api_principal(request, Scope.INVITES_WRITE)
    raw = await request.read()
    if raw:
        raise errors.BadRequest("this endpoint takes no body")

    async def work() -> web.Response:
        settings = request.app[SETTINGS]
        invite, token = await invites.create_invite(
            request.app[ENGINE],
            principal,
            request.match_info["id"],
            ttl=settings.invite_ttl,
            request_id=request.get(REQUEST_ID),
        )
        out = InviteOut(
            id=invite.id,
            link=f"{settings.public_url.rstrip('/')}/i/{token}",
            created_at=iso(invite.created_at) or "",
            expires_at=iso(invite.expires_at) or "",
        )
        return web.json_response(out.model_dump(), status=201)

    return await idempotent(request, raw, work)


@routes.get("/api/v1/applications/{id}/kyc")
async def kyc(request: web.Request) -> web.Response:
    principal = await api_principal(request, Scope.KYC_READ)
    app = await apps.get_application(request.app[ENGINE], principal, request.match_info["id"])
    return web.json_response(await kyc_summary(request, app.id))


async def _contract(request: web.Request) -> contract_records.Contract:
    principal = await api_principal(request, Scope.CONTRACTS_READ)
    app = await apps.get_application(request.app[ENGINE], principal, request.match_info["id"])
    contract = await contract_records.latest_contract(request.app[ENGINE], app.id)
    if contract is None:
        raise errors.NotFound("no contract has been pushed yet")
    return contract


@routes.get("/api/v1/applications/{id}/contract")
async def contract(request: web.Request) -> web.Response:
    found = await _contract(request)
    return web.json_response(ContractOut.model_validate(found.as_json()).model_dump())


@routes.get("/api/v1/applications/{id}/contract/document")
async def contract_document(request: web.Request) -> web.Response:
    found = await _contract(request)
    if found.signed_sha256 is None:
        error = errors.Conflict("the contract is not signed yet")
        error.code = "not_signed"
        raise error
    data = await request.app[BLOBS].get(found.signed_sha256)
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{found.contract_number}.pdf"'},
    )
