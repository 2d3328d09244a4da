"""Staff routes on applications: the manager's dashboard and actions, the shared case
page and API for managers and compliance, invites."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web
from pydantic import Field

from audit import log as audit
from kyc.identity_paths import (
    confirmed_by_manager,
    manager_check_ready,
    manager_may_confirm,
    record_confirmed_on_call,
)
from kyc.workers import DocumentKind
from loans import applications as apps
from loans import invites
from loans.consent import current_consents
from loans.models import ApplicationInput
from loans.roles import Role
from loans.states import Action, State
from store.database import read_only
from web import errors
from web.auth import users
from web.guards import principal_of, requires
from web.keys import CALLS, ENGINE, IDENTITY_RULES, REQUEST_ID, SETTINGS
from web.paging import list_filter, paging
from web.qr import qr_svg_data_uri
from web.render import render
from web.routes.calls import INTERVIEW_ITEMS
from web.schemas import ActionBody, Body, NewApplicationBody, parse_body
from web.views import HTTP_ACTIONS, application_json, invite_json

routes = web.RouteTableDef()

# The reviewer's checklist; a case whose identity a manager confirmed adds one.
REVIEW_ITEMS = (
    "identity_confirmed",
    "acted_voluntarily",
    "contract_explained",
    "recording_complete",
)
MANAGER_CHECKED = ("manager_confirmation_reviewed",)


@routes.get("/manager")
@requires(Role.MANAGER)
async def manager_dashboard(request: web.Request) -> web.Response:
    offset, limit = paging(request)
    page = await apps.list_applications(
        request.app[ENGINE],
        principal_of(request),
        wanted=list_filter(request),
        offset=offset,
        limit=limit,
    )
    return render(request, "manager.html", page=page, states=list(State))


@routes.get("/compliance")
@requires(Role.COMPLIANCE)
async def compliance_queue(request: web.Request) -> web.Response:
    offset, limit = paging(request)
    wanted = list_filter(request)
    page = await apps.list_applications(
        request.app[ENGINE], principal_of(request), wanted=wanted, offset=offset, limit=limit
    )
    kept = {k: v for k, v in request.query.items() if k not in ("offset", "limit") and v}
    return render(
        request,
        "compliance.html",
        page=page,
        states=list(State),
        selected_state=wanted.state,
        query=request.query,
        managers=[u for u in await users.list_users(request.app[ENGINE]) if u.role is Role.MANAGER],
        pager_base="/compliance?" + "".join(f"{urlencode({k: v})}&" for k, v in kept.items()),
    )


@routes.get("/staff/applications/{id}")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def application_page(request: web.Request) -> web.Response:
    principal = principal_of(request)
    engine = request.app[ENGINE]
    app = await apps.get_application(
        engine, principal, request.match_info["id"], request_id=request.get(REQUEST_ID)
    )
    async with read_only(engine) as conn:
        trail = await audit.entries_for_application(conn, app.id)
    now = datetime.now(UTC)
    return render(
        request,
        "application.html",
        app=app,
        view=application_json(app, principal),
        invites=await invites.list_invites(engine, app.id),
        now=now,
        document_kinds=[kind.value for kind in DocumentKind],
        interview_items=INTERVIEW_ITEMS,
        review_items=REVIEW_ITEMS
        + (
            ("manager_confirmation_reviewed",) if await confirmed_by_manager(engine, app.id) else ()
        ),
        biometric_consent=(await current_consents(engine, app.id)).biometrics,
        manager_check=app.state is State.INVITED
        and await manager_check_ready(engine, app.id, request.app[IDENTITY_RULES]),
        trail=trail,
        can_invite=principal.role is Role.MANAGER
        and app.state in (State.DRAFT, State.INVITED, State.IDENTITY_VERIFIED, State.EXPIRED),
    )


@routes.get("/api/applications")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def list_applications(request: web.Request) -> web.Response:
    principal = principal_of(request)
    offset, limit = paging(request)
    page = await apps.list_applications(
        request.app[ENGINE], principal, wanted=list_filter(request), offset=offset, limit=limit
    )
    return web.json_response(
        {
            "items": [application_json(a, principal) for a in page.items],
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
        }
    )


@routes.post("/api/applications")
@requires(Role.MANAGER)
async def create_application(request: web.Request) -> web.Response:
    body = await parse_body(request, NewApplicationBody)
    data = ApplicationInput.parse(**body.model_dump())
    principal = principal_of(request)
    app = await apps.create_application(
        request.app[ENGINE], principal, data, request_id=request.get(REQUEST_ID)
    )
    return web.json_response(application_json(app, principal), status=201)


@routes.get("/api/applications/{id}")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def get_application(request: web.Request) -> web.Response:
    principal = principal_of(request)
    engine = request.app[ENGINE]
    app = await apps.get_application(
        engine, principal, request.match_info["id"], request_id=request.get(REQUEST_ID)
    )
    body = application_json(app, principal)
    now = datetime.now(UTC)
    body["invites"] = [invite_json(i, now) for i in await invites.list_invites(engine, app.id)]
    return web.json_response(body)


@routes.get("/api/applications/{id}/audit")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def application_audit(request: web.Request) -> web.Response:
    principal = principal_of(request)
    engine = request.app[ENGINE]
    app = await apps.get_application(
        engine, principal, request.match_info["id"], request_id=request.get(REQUEST_ID)
    )
    async with read_only(engine) as conn:
        trail = await audit.entries_for_application(conn, app.id)
    return web.json_response(
        {
            "items": [
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "role": e.role,
                    "action": e.action,
                    "details": e.details,
                    "entry_hash": e.entry_hash,
                }
                for e in trail
            ]
        }
    )


@routes.post("/api/applications/{id}/actions")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def take_action(request: web.Request) -> web.Response:
    body = await parse_body(request, ActionBody)
    try:
        action = Action(body.action)
    except ValueError:
        action = None
    if action is None or action not in HTTP_ACTIONS:
        raise errors.ValidationFailed(
            f"unknown action {body.action!r}",
            details={"allowed": sorted(a.value for a in HTTP_ACTIONS)},
        )
    principal = principal_of(request)
    in_call = False
    if action is Action.CONFIRM_IDENTITY and principal.role is Role.MANAGER:
        # Visibility first, so the rule below says nothing about other managers' cases.
        app = await apps.get_application(
            request.app[ENGINE],
            principal,
            request.match_info["id"],
            request_id=request.get(REQUEST_ID),
        )
        in_call = await request.app[CALLS].running(app.id) is not None
        if not await manager_may_confirm(
            request.app[ENGINE], app.id, request.app[IDENTITY_RULES], in_call=in_call
        ):
            raise errors.Conflict(
                "identity can be confirmed by a manager only when every document check passed "
                "and the identity platform and business registry agree, and either the face "
                "match asks for review or, without biometric consent, on the video call"
            )
    app = await apps.act(
        request.app[ENGINE],
        principal,
        request.match_info["id"],
        action,
        comment=body.comment,
        request_id=request.get(REQUEST_ID),
    )
    if in_call and app.state is State.IDENTITY_VERIFIED:
        # Confirmed on the call: signing rests on that, and the interview goes on in it.
        await record_confirmed_on_call(
            request.app[ENGINE], principal.actor, app.id, request.get(REQUEST_ID)
        )
        app = await apps.act(
            request.app[ENGINE],
            principal,
            app.id,
            Action.START_INTERVIEW,
            request_id=request.get(REQUEST_ID),
        )
    return web.json_response(application_json(app, principal))


class CorrectionBody(Body):
    field: str = Field(max_length=40)
    value: str = Field(max_length=200)
    reason: str = Field(max_length=2000)


@routes.post("/api/applications/{id}/correction")
@requires(Role.MANAGER)
async def correct_application(request: web.Request) -> web.Response:
    """Correct the applicant's data (a data subject's request), with a reason."""
    body = await parse_body(request, CorrectionBody)
    principal = principal_of(request)
    app = await apps.correct(
        request.app[ENGINE],
        principal,
        request.match_info["id"],
        field=body.field,
        value=body.value,
        reason=body.reason,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(application_json(app, principal))


@routes.post("/api/applications/{id}/invites")
@requires(Role.MANAGER)
async def create_invite(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    settings = request.app[SETTINGS]
    invite, token = await invites.create_invite(
        request.app[ENGINE],
        principal_of(request),
        request.match_info["id"],
        ttl=settings.invite_ttl,
        request_id=request.get(REQUEST_ID),
    )
    link = f"{settings.public_url.rstrip('/')}/i/{token}"
    body = invite_json(invite, datetime.now(UTC))
    body["link"] = link
    body["qr_svg"] = qr_svg_data_uri(link)
    return web.json_response(body, status=201)


@routes.post("/api/applications/{id}/invites/{invite_id}/revoke")
@requires(Role.MANAGER)
async def revoke_invite(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    invite = await invites.revoke_invite(
        request.app[ENGINE],
        principal_of(request),
        request.match_info["id"],
        request.match_info["invite_id"],
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(invite_json(invite, datetime.now(UTC)))
