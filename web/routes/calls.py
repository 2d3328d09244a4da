"""Video calls: the waiting queue, accepting a call, ICE servers, the signalling
WebSocket, and the manager's snapshot, interview checklist and end-call controls.

Who may signal: the applicant for their own application, the manager it is
assigned to; anyone else gets 403 and an audit entry. The WebSocket upgrade is a
GET, which the CSRF middleware lets through, so its Origin is checked here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict

from audit import log as audit
from cluster.errors import ClusterError
from cluster.placement import Placement
from interview.call_lines import CallLine
from kyc.identity_paths import manager_check_ready
from loans import applications as apps
from loans.access import Principal
from loans.models import Application
from loans.roles import Role
from loans.states import Action, State
from media.actions import CallAction, InterviewAction
from media.call import Side
from media.errors import SignallingError
from web import errors
from web.auth.sessions import COOKIE_NAME
from web.guards import principal_of, requires
from web.keys import CALLS, ENGINE, IDENTITY_RULES, REQUEST_ID, SETTINGS, SIGNALLING_SOCKETS
from web.middleware import check_origin
from web.schemas import Body, parse_body

routes = web.RouteTableDef()

SIDES = {Role.APPLICANT: Side.APPLICANT, Role.MANAGER: Side.MANAGER}
MAX_QUEUE = 200


async def participant_application(request: web.Request, application_id: str) -> Application:
    """The application, if the caller is one of its call's two participants."""
    principal = principal_of(request)
    engine = request.app[ENGINE]
    app = await apps.get_application(
        engine, principal, application_id, request_id=request.get(REQUEST_ID)
    )
    if principal.role is Role.MANAGER and app.manager_id != principal.user_id:
        await apps.record_denial(
            engine,
            principal,
            "join call",
            application_id=app.id,
            request_id=request.get(REQUEST_ID),
        )
        raise errors.Forbidden("only the case's manager joins its call")
    return app


def user_label(principal: Principal) -> str:
    if principal.role is Role.APPLICANT:
        return f"applicant-{principal.application_id}"
    return f"user-{principal.user_id}"


@routes.post("/api/applicant/call/queue")
@requires(Role.APPLICANT)
async def join_queue(request: web.Request) -> web.Response:
    principal = principal_of(request)
    assert principal.application_id is not None
    app = await participant_application(request, principal.application_id)
    calls = request.app[CALLS]
    # A call whose node went away moves to a live node here, and the page joins it.
    if app.state in CALL_STATES and await calls.running(app.id) is not None:
        return web.json_response({"state": "in_call"})
    if app.state not in (State.IDENTITY_VERIFIED, State.IN_INTERVIEW) and not (
        app.state is State.INVITED
        and await manager_check_ready(request.app[ENGINE], app.id, request.app[IDENTITY_RULES])
    ):
        raise errors.Conflict("the call opens once your identity is verified")
    since = await calls.queue.join(app.id, principal.actor, request.get(REQUEST_ID))
    return web.json_response({"state": "waiting", "waiting_since": since.isoformat()})


@routes.get("/api/calls/queue")
@requires(Role.MANAGER)
async def queue(request: web.Request) -> web.Response:
    """The manager's applicants waiting for their call, longest wait first."""
    principal = principal_of(request)
    engine = request.app[ENGINE]
    calls = request.app[CALLS]
    now = datetime.now(UTC)
    in_call = await calls.placements.running_ids()
    mine = {
        app.id: app
        for state in (State.INVITED, State.IDENTITY_VERIFIED, State.IN_INTERVIEW)
        for app in (
            await apps.list_applications(engine, principal, state=state, limit=MAX_QUEUE)
        ).items
        if app.id not in in_call
    }
    waiting = [
        {
            "application_id": application_id,
            "company_name": mine[application_id].company_name,
            "legal_rep_name": mine[application_id].legal_rep_name,
            "waiting_seconds": int((now - since).total_seconds()),
            # The manager confirms this identity on the call (kyc/identity_paths.py).
            "kyc": "manager_check"
            if mine[application_id].state is State.INVITED
            else "identity_verified",
        }
        for application_id, since in (await calls.queue.waiting()).items()
        if application_id in mine
    ]
    return web.json_response({"waiting": waiting})


@routes.post("/api/applications/{id}/call")
@requires(Role.MANAGER)
async def accept_call(request: web.Request) -> web.Response:
    """Accept the waiting applicant: the interview starts and both pages connect."""
    app = await participant_application(request, request.match_info["id"])
    engine = request.app[ENGINE]
    if app.state is State.INVITED:
        # The manager check: the identity is confirmed in this call, then the
        # interview starts (web.routes.applications).
        if not await manager_check_ready(engine, app.id, request.app[IDENTITY_RULES]):
            raise errors.Conflict("this applicant's identity is not ready for a call")
    elif app.state is not State.IN_INTERVIEW:
        app = await apps.act(
            engine,
            principal_of(request),
            app.id,
            Action.START_INTERVIEW,
            request_id=request.get(REQUEST_ID),
        )
    placement = await request.app[CALLS].accept(app.id)
    return web.json_response({"call": app.id, "started_at": placement.placed_at.isoformat()})


@routes.get("/api/calls/{id}/ice")
@requires(Role.APPLICANT, Role.MANAGER)
async def ice_servers(request: web.Request) -> web.Response:
    """ICE servers for this participant's next peer connection (fresh TURN
    credentials each time, so a reconnect never uses an expired one)."""
    await participant_application(request, request.match_info["id"])
    settings = request.app[SETTINGS].ice
    principal = principal_of(request)
    return web.json_response(
        {
            "iceServers": settings.servers(user_label(principal), now=datetime.now(UTC)),
            "iceTransportPolicy": "relay" if settings.relay_only else "all",
        }
    )


# Signing during the call moves the case to contract_signed; the call itself goes
# on (goodbyes, a rejoin, the manager ending it) until someone ends it. A case
# still invited is in a call only for the manager check (accept_call).
CALL_STATES = (State.INVITED, State.IN_INTERVIEW, State.CONTRACT_SIGNED)


async def running_call(request: web.Request, app: Application) -> Placement:
    placement = await request.app[CALLS].running(app.id)
    if placement is None or app.state not in CALL_STATES:
        raise errors.Conflict("there is no call for this application now")
    return placement


@routes.get("/api/calls/{id}/signal")
@requires(Role.APPLICANT, Role.MANAGER)
async def signal(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    app = await participant_application(request, request.match_info["id"])
    placement = await running_call(request, app)
    principal = principal_of(request)
    side = SIDES[principal.role]
    socket = web.WebSocketResponse(heartbeat=20, max_msg_size=256 * 1024)
    await socket.prepare(request)
    lock = asyncio.Lock()

    async def notify(message: Mapping[str, object]) -> None:
        async with lock:
            if not socket.closed:
                await socket.send_str(json.dumps(message))

    async def moved() -> None:
        # The page connects again, through the load balancer, to a node that stays.
        await socket.close(code=WSCloseCode.SERVICE_RESTART, message=b"call moved")

    calls = request.app[CALLS]
    sockets = request.app[SIGNALLING_SOCKETS]
    key = (app.id, side.value)
    sockets.watch(socket, request.cookies.get(COOKIE_NAME))
    line: CallLine | None = None
    try:
        line = await calls.line(placement, side, user_label(principal), notify, moved)
        await line.join()
        # After the join, so the older socket's end is not taken for a drop.
        await sockets.take_over(key, socket)
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                if frame.type is WSMsgType.BINARY:
                    await notify({"type": "error", "code": "bad_json", "message": "send text"})
                continue
            try:
                await line.handle(frame.data)
            except SignallingError as exc:
                await notify(exc.as_message())
    except SignallingError as exc:
        await notify(exc.as_message())
    except ClusterError as exc:
        await notify({"type": "error", "code": exc.code, "message": exc.message})
    finally:
        if line is not None:
            calls.line_closed(app.id, line)
            await line.close()
        await sockets.release(key, socket)
    return socket


@routes.post("/api/calls/{id}/snapshot")
@requires(Role.MANAGER)
async def snapshot(request: web.Request) -> web.Response:
    """The applicant's picture as the server receives it, kept as evidence."""
    app = await participant_application(request, request.match_info["id"])
    await running_call(request, app)
    shot = await request.app[CALLS].snapshot(app.id)
    if shot is None:
        raise errors.Conflict("no picture from the applicant yet")
    details = shot.as_json()
    async with request.app[ENGINE].begin() as conn:
        await audit.append(
            conn,
            principal_of(request).actor,
            CallAction.SNAPSHOT,
            application_id=app.id,
            request_id=request.get(REQUEST_ID),
            details=details,
        )
    return web.json_response(details, status=201)


@routes.post("/api/calls/{id}/end")
@requires(Role.MANAGER)
async def end_call(request: web.Request) -> web.Response:
    app = await participant_application(request, request.match_info["id"])
    await running_call(request, app)
    await request.app[CALLS].end(app.id, "manager_ended")
    return web.json_response({"ended": True})


class InterviewChecklist(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id_shown: bool
    purpose_confirmed: bool
    terms_explained: bool
    acted_voluntarily: bool


INTERVIEW_ITEMS = tuple(InterviewChecklist.model_fields)


class ChecklistBody(Body):
    checklist: InterviewChecklist


@routes.post("/api/calls/{id}/checklist")
@requires(Role.MANAGER)
async def interview_checklist(request: web.Request) -> web.Response:
    """The manager's record of what the interview covered, while it runs; each save
    is an audit entry (the review reads the latest beside the recording)."""
    body = await parse_body(request, ChecklistBody)
    app = await participant_application(request, request.match_info["id"])
    await running_call(request, app)
    items = body.checklist.model_dump()
    async with request.app[ENGINE].begin() as conn:
        await audit.append(
            conn,
            principal_of(request).actor,
            InterviewAction.CHECKLIST,
            application_id=app.id,
            request_id=request.get(REQUEST_ID),
            details={"items": items},
        )
    return web.json_response({"checklist": items}, status=201)
