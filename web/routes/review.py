"""Compliance review: the four-eyes checklist and decision, and revealing an ID number.

A decision carries the reviewer's checklist; approval needs every item confirmed,
flagging or rejecting needs a comment (a flagged case returns to its manager with
it). The case's own manager can never review it (loans.applications). Revealing
the ID number behind the mask is its own audited action.
"""

from __future__ import annotations

import json
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from audit import log as audit
from compliance.actions import ComplianceAction
from compliance.evidence import build_package
from compliance.processing_record import processing_record
from kyc.actions import KycAction
from kyc.identity_paths import confirmed_by_manager
from kyc.records import latest_readings
from loans import applications as apps
from loans.actions import LoanAction
from loans.roles import Role
from loans.states import Action
from web import errors
from web.guards import principal_of, requires
from web.keys import ENGINE, EVIDENCE, REQUEST_ID, SETTINGS
from web.routes.contracts import exported_package
from web.schemas import Body, parse_body
from web.views import application_json

routes = web.RouteTableDef()

DECISIONS = {"approve": Action.APPROVE, "flag": Action.FLAG, "reject": Action.REJECT}


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    identity_confirmed: bool
    acted_voluntarily: bool
    contract_explained: bool
    recording_complete: bool
    # Where a manager confirmed the identity by eye (a face match in review, or
    # no biometric consent): the reviewer has watched that moment of the call.
    manager_confirmation_reviewed: bool = False


class ReviewBody(Body):
    decision: Literal["approve", "flag", "reject"]
    checklist: Checklist
    comment: str | None = None


@routes.post("/api/applications/{id}/review")
@requires(Role.COMPLIANCE)
async def review(request: web.Request) -> web.Response:
    body = await parse_body(request, ReviewBody)
    checklist = body.checklist.model_dump()
    if not await confirmed_by_manager(request.app[ENGINE], request.match_info["id"]):
        del checklist["manager_confirmation_reviewed"]
    if body.decision == "approve" and not all(checklist.values()):
        unchecked = sorted(name for name, done in checklist.items() if not done)
        raise errors.ValidationFailed(
            "approval needs every checklist item confirmed", details={"unchecked": unchecked}
        )
    comment = (body.comment or "").strip()
    if len(comment) > 4000:
        raise errors.ValidationFailed("the comment is limited to 4000 characters")
    principal = principal_of(request)
    app = await apps.act(
        request.app[ENGINE],
        principal,
        request.match_info["id"],
        DECISIONS[body.decision],
        comment=comment or None,
        request_id=request.get(REQUEST_ID),
    )
    async with request.app[ENGINE].begin() as conn:
        await audit.append(
            conn,
            principal.actor,
            LoanAction.REVIEW_CHECKLIST,
            application_id=app.id,
            request_id=request.get(REQUEST_ID),
            details={"decision": body.decision, "checklist": checklist},
        )
    return web.json_response(application_json(app, principal))


@routes.post("/api/applications/{id}/kyc/reveal")
@requires(Role.COMPLIANCE)
async def reveal(request: web.Request) -> web.Response:
    """The unmasked ID number, for a reviewer who needs it; every reveal is audited."""
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    principal = principal_of(request)
    engine = request.app[ENGINE]
    app = await apps.get_application(
        engine, principal, request.match_info["id"], request_id=request.get(REQUEST_ID)
    )
    front = (await latest_readings(engine, app.id)).get("id_front")
    if front is None or "id_number" not in front.fields:
        raise errors.NotFound("no ID number has been read for this application")
    async with engine.begin() as conn:
        await audit.append(
            conn,
            principal.actor,
            KycAction.ID_REVEALED,
            application_id=app.id,
            request_id=request.get(REQUEST_ID),
            details={"reading_id": front.id},
        )
    return web.json_response({"id_number": front.fields["id_number"].value})


@routes.get("/api/applications/{id}/personal-data.zip")
@requires(Role.COMPLIANCE)
async def personal_data(request: web.Request) -> web.Response:
    """Everything held about one applicant, for their access request: the evidence
    package plus the application as entered and its consents; sealed and audited."""
    principal = principal_of(request)
    app = await apps.get_application(
        request.app[ENGINE], principal, request.match_info["id"], request_id=request.get(REQUEST_ID)
    )
    package = await build_package(request.app[EVIDENCE], app.id, applicant_record=True)
    return await exported_package(request, app, package, ComplianceAction.PERSONAL_DATA_EXPORTED)


@routes.get("/api/applications/{id}/processing-record")
@requires(Role.COMPLIANCE)
async def case_processing_record(request: web.Request) -> web.Response:
    """What personal information this case processed, on which consents, and when
    each kind is due for deletion: for the bank's impact assessment."""
    engine = request.app[ENGINE]
    app = await apps.get_application(
        engine, principal_of(request), request.match_info["id"], request_id=request.get(REQUEST_ID)
    )
    record = await processing_record(engine, app.id, request.app[SETTINGS].retention)
    return web.json_response(
        record,
        headers={"Content-Disposition": f'attachment; filename="processing-record-{app.id}.json"'},
        dumps=lambda value: json.dumps(value, ensure_ascii=False, indent=1),
    )
