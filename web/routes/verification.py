"""Identity judged on the video the server receives (live_identity).

The applicant's verification session before the interview: a WebSocket that
carries the WebRTC signalling of a connection to the server alone, the camera's
description, and the server's prompts and verdicts. The upload path in
documents.py stays as the fallback when no connection can be made.

On the call: the applicant's fresh check at signing and the manager's re-check,
started here and run on the node hosting the call; their prompts and outcome go
to both pages over the call's socket ("live_check" messages, call_check.py).

Client to server, besides the call's signalling (media/signalling.py):
  {"type": "camera", "label": ..., "width": ..., "height": ..., "frame_rate": ...,
   "facing_mode": ...}
Server to client, besides "answer" and "error":
  {"type": "prompt", "index": N, "challenge": ..., "window_ms": ...}
  {"type": "verdict", "index": N, "challenge": ..., "detected": true | false}
  {"type": "result", ...the liveness attempt..., "application_state" | "attempts_left"}
  {"type": "interrupted", "reason": "no_video" | "connection_lost" | "reconnected" | ...}
The server closes the socket after "result" or "interrupted".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from aiohttp import WSMsgType, web

from kyc.identity_paths import manager_check_ready
from kyc.records import issue_liveness, latest_readings
from kyc.workers import DocumentKind
from live_identity.camera import CameraReport
from live_identity.errors import LiveIdentityError
from live_identity.session import VerificationSession
from loans.consent import current_consents
from loans.errors import BiometricConsentMissing
from loans.models import Application
from loans.roles import Role
from loans.states import State
from media import signalling
from media.errors import SignallingError
from web import errors
from web.guards import principal_of, requires
from web.keys import CALLS, ENGINE, IDENTITY_RULES, LIVE_SESSIONS, REQUEST_ID, SETTINGS
from web.middleware import check_origin
from web.routes.calls import CALL_STATES, participant_application, user_label
from web.routes.documents import challenges_for, liveness_allowed, open_application
from web.schemas import Body, parse_body

routes = web.RouteTableDef()

# Waiting for a face, each challenge's pause, window and measuring, and the face
# match afterwards fit well inside this.
SESSION_VALID_FOR = timedelta(minutes=2)


async def _handle(session: VerificationSession, raw: str) -> None:
    body: Any = None
    with contextlib.suppress(ValueError, RecursionError):
        body = json.loads(raw)
    if isinstance(body, dict) and body.get("type") == "camera":
        session.camera_reported(CameraReport.from_message(body))
        return
    await session.handle(signalling.parse(raw))


@routes.get("/api/applicant/verification")
@requires(Role.APPLICANT)
async def verification_session(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    principal = principal_of(request)
    engine = request.app[ENGINE]
    app = await open_application(request, liveness=True, biometric=True)
    id_front = await liveness_allowed(request, app)
    socket = web.WebSocketResponse(heartbeat=20, max_msg_size=256 * 1024)
    await socket.prepare(request)
    lock = asyncio.Lock()

    async def notify(message: Mapping[str, object]) -> None:
        async with lock:
            if socket.closed:
                raise ConnectionError("the page has gone")
            await socket.send_str(json.dumps(message))

    async def finished(outcome: Mapping[str, object]) -> None:
        try:
            await notify(outcome)
        except (ConnectionError, RuntimeError):
            return
        await socket.close()

    challenges = challenges_for(request.app[SETTINGS])
    attempt = await issue_liveness(
        engine,
        principal.actor,
        app.id,
        challenges,
        valid_for=SESSION_VALID_FOR,
        request_id=request.get(REQUEST_ID),
    )
    sessions = request.app[LIVE_SESSIONS]
    try:
        session = await sessions.open(
            attempt,
            id_front,
            challenges,
            actor=principal.actor,
            user=user_label(principal),
            notify=notify,
            finished=finished,
            request_id=request.get(REQUEST_ID),
        )
    except LiveIdentityError as exc:
        await socket.send_json({"type": "error", "code": exc.code, "message": exc.message})
        await socket.close()
        return socket
    try:
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                continue
            try:
                await _handle(session, frame.data)
            except (SignallingError, LiveIdentityError) as exc:
                await notify({"type": "error", "code": exc.code, "message": exc.message})
    finally:
        session.interrupt("connection_lost")
        await sessions.wait(session)
    return socket


async def _start_call_check(
    request: web.Request, app: Application, *, supervised: bool = False
) -> web.Response:
    """Issue an attempt and start it on the call's video. `supervised`: the
    manager asked, on the call; the limit on the applicant's own attempts does not
    apply (after it is reached, this is how the manager checks live)."""
    principal = principal_of(request)
    engine = request.app[ENGINE]
    calls = request.app[CALLS]
    if app.state not in CALL_STATES or await calls.running(app.id) is None:
        raise errors.Conflict("there is no call for this application now")
    id_front = await liveness_allowed(request, app, limited=not supervised)
    attempt = await issue_liveness(
        engine,
        principal.actor,
        app.id,
        challenges_for(request.app[SETTINGS]),
        valid_for=SESSION_VALID_FOR,
        request_id=request.get(REQUEST_ID),
    )
    await calls.live_check(attempt, id_front, principal.actor, request.get(REQUEST_ID))
    return web.json_response(attempt.as_json(), status=202)


@routes.post("/api/applicant/liveness/call")
@requires(Role.APPLICANT)
async def applicant_call_check(request: web.Request) -> web.Response:
    """The applicant's check on the call: the fresh one signing asks for."""
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    app = await open_application(request, liveness=True, biometric=True)
    return await _start_call_check(request, app)


@routes.post("/api/calls/{id}/live-check")
@requires(Role.MANAGER)
async def manager_call_check(request: web.Request) -> web.Response:
    """The manager's re-check of liveness and face on the live call."""
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    app = await participant_application(request, request.match_info["id"])
    engine = request.app[ENGINE]
    # During the interview, or in the manager check that follows the applicant's
    # last failed attempt (the call is held while the case is still invited).
    manager_check = app.state is State.INVITED and await manager_check_ready(
        engine, app.id, request.app[IDENTITY_RULES]
    )
    if app.state is not State.IN_INTERVIEW and not manager_check:
        raise errors.Conflict("a re-check runs on the interview's call")
    if (await current_consents(engine, app.id)).biometrics is not True:
        raise BiometricConsentMissing(
            "the applicant did not agree to biometric processing: confirm the identity by eye"
        )
    return await _start_call_check(request, app, supervised=True)


class DocumentCheckBody(Body):
    # The documents live_identity.document_check compares (SHOWN_KINDS).
    kind: Literal["id_front", "licence"]


@routes.post("/api/calls/{id}/document-check")
@requires(Role.MANAGER)
async def manager_document_check(request: web.Request) -> web.Response:
    """Ask the applicant to hold the ID card's photo side or the licence up to the
    camera; the server reads it off the call and compares it with the upload."""
    kind = DocumentKind((await parse_body(request, DocumentCheckBody)).kind)
    app = await participant_application(request, request.match_info["id"])
    if app.state is not State.IN_INTERVIEW:
        raise errors.Conflict("a document is shown during the interview")
    calls = request.app[CALLS]
    if await calls.running(app.id) is None:
        raise errors.Conflict("there is no call for this application now")
    if kind.value not in await latest_readings(request.app[ENGINE], app.id):
        raise errors.Conflict("this document was never uploaded")
    principal = principal_of(request)
    await calls.document_check(app.id, kind, principal.actor, request.get(REQUEST_ID))
    return web.json_response({"kind": kind.value, "state": "requested"}, status=202)
