"""The applicant's side: opening the invite link, the landing page with its steps,
consent and the device check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from compliance.erasure import erase
from compliance.retention import DataKind
from kyc.identity_paths import confirmed_on_call
from kyc.records import failed_liveness_count, latest_readings
from kyc.workers import DocumentKind
from loans import applications as apps
from loans import invites
from loans.consent import (
    TEXT_VERSIONS,
    Consents,
    choose_biometrics,
    current_consents,
    record_consent,
)
from loans.errors import InviteUnusable
from loans.models import Application
from loans.roles import Role
from loans.states import State
from media.actions import InterviewAction
from store.blobs import BlobNamespaces
from store.database import read_only
from web import errors
from web.auth.sessions import COOKIE_NAME
from web.guards import principal_of, requires
from web.keys import (
    BIOMETRIC_BLOBS,
    BLOBS,
    ENGINE,
    LANGUAGE,
    REQUEST_ID,
    SESSION,
    SESSIONS,
    SETTINGS,
)
from web.render import render
from web.routes.public import set_cookie
from web.schemas import Body, ConsentBody, parse_body
from web.views import application_json

routes = web.RouteTableDef()

MAX_TOKEN_LENGTH = 64
# One task per screen: consent, the separate biometric consent, device check,
# documents, liveness, interview and signing, done. The page shows the current
# step's section only.
STEPS = ("consent", "biometrics", "device", "documents", "liveness", "interview", "done")
# A connection slower than this to answer cannot carry the video interview.
MAX_DEVICE_RTT_MS = 1500
DEVICE_CHECKS_PER_HOUR = 20


class DeviceReport(Body):
    camera: bool
    microphone: bool
    webrtc: bool
    recorder: bool
    rtt_ms: int = Field(ge=0, le=600_000)


async def _device_checked(engine: AsyncEngine, application_id: str) -> bool:
    async with read_only(engine) as conn:
        entries = await audit.entries_for_application(conn, application_id, limit=10_000)
    return any(
        e.action == InterviewAction.DEVICE_CHECKED and e.details.get("ok") is True for e in entries
    )


async def current_step(
    engine: AsyncEngine, app: Application, consents: Consents, liveness_attempts: int
) -> str:
    if app.state in (State.IDENTITY_VERIFIED, State.IN_INTERVIEW):
        return "interview"
    if app.state not in (State.DRAFT, State.INVITED):
        return "done"
    if not consents.given:
        return "consent"
    if consents.biometrics is None:
        return "biometrics"
    if not await _device_checked(engine, app.id):
        return "device"
    readings = await latest_readings(engine, app.id)
    kinds = {kind.value for kind in DocumentKind}
    if kinds - set(readings) or not all(r.passed for r in readings.values()):
        return "documents"
    # Without biometric consent, or once every liveness attempt failed, the
    # manager confirms the identity on the call.
    if not consents.biometrics:
        return "interview"
    failed = await failed_liveness_count(engine, app.id)
    return "interview" if failed >= liveness_attempts else "liveness"


@routes.get("/i/{token}")
async def open_invite(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InviteUnusable("malformed invite token")
        invite = await invites.open_invite(
            request.app[ENGINE], token, request_id=request.get(REQUEST_ID)
        )
    except InviteUnusable:
        return render(request, "invite_invalid.html", status=410)
    old = request.cookies.get(COOKIE_NAME)
    if old:
        await request.app[SESSIONS].end(old)
    session_token = await request.app[SESSIONS].start_applicant(invite.application_id, invite.id)
    # Redirect so the token leaves the address bar and browser history.
    response = web.HTTPSeeOther("/apply")
    set_cookie(request, response, COOKIE_NAME, session_token)
    raise response


@routes.get("/apply")
async def apply_page(request: web.Request) -> web.Response:
    session = request.get(SESSION)
    if session is None or session.principal.role is not Role.APPLICANT:
        return render(request, "no_session.html", status=401)
    principal = session.principal
    assert principal.application_id is not None
    engine = request.app[ENGINE]
    app = await apps.get_application(engine, principal, principal.application_id)
    consents = await current_consents(engine, app.id)
    step = await current_step(engine, app, consents, request.app[SETTINGS].liveness_attempts)
    return render(
        request,
        "apply.html",
        app=app,
        consents=consents,
        consent_versions=TEXT_VERSIONS,
        # Signing asks for a fresh face check unless the manager confirmed the
        # identity on the call (interview.contract_flow).
        fresh_face_check=bool(consents.biometrics) and not await confirmed_on_call(engine, app.id),
        step=step,
        steps=STEPS,
        document_kinds=[kind.value for kind in DocumentKind],
    )


@routes.get("/api/applicant/application")
@requires(Role.APPLICANT)
async def applicant_application(request: web.Request) -> web.Response:
    principal = principal_of(request)
    assert principal.application_id is not None
    engine = request.app[ENGINE]
    app = await apps.get_application(engine, principal, principal.application_id)
    body = application_json(app, principal)
    consents = await current_consents(engine, app.id)
    body["consent_given"] = consents.given
    body["consents"] = consents.as_json()
    return web.json_response(body)


@routes.post("/api/applicant/consent")
@requires(Role.APPLICANT)
async def give_consent(request: web.Request) -> web.Response:
    """The two consents the remote process needs: the recording, and the processing
    of identity documents and business data."""
    body = await parse_body(request, ConsentBody)
    consents = await record_consent(
        request.app[ENGINE],
        principal_of(request),
        recording=body.recording,
        data_use=body.data_use,
        language=request.get(LANGUAGE, "zh-CN"),
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(consents.as_json())


class BiometricChoice(Body):
    granted: bool


@routes.post("/api/applicant/consent/biometrics")
@requires(Role.APPLICANT)
async def biometric_consent(request: web.Request) -> web.Response:
    """Agree to, decline or withdraw biometric processing. A withdrawal before the
    contract is signed deletes the selfies, liveness clips and stills collected;
    after it, the evidence the contract rests on is kept, and the answer says so."""
    body = await parse_body(request, BiometricChoice)
    principal = principal_of(request)
    engine = request.app[ENGINE]
    consents, withdrawn = await choose_biometrics(
        engine,
        principal,
        granted=body.granted,
        language=request.get(LANGUAGE, "zh-CN"),
        request_id=request.get(REQUEST_ID),
    )
    answer = consents.as_json()
    if withdrawn:
        assert principal.application_id is not None
        app = await apps.get_application(engine, principal, principal.application_id)
        erased = await erase(
            engine,
            BlobNamespaces(request.app[BLOBS], request.app[BIOMETRIC_BLOBS]),
            principal.actor,
            app.id,
            app.state,
            (DataKind.BIOMETRICS,),
            reason="consent_withdrawn",
            request_id=request.get(REQUEST_ID),
        )
        answer["erasure"] = erased.as_json()
    return web.json_response(answer)


@routes.post("/api/applicant/device-check")
@requires(Role.APPLICANT)
async def device_check(request: web.Request) -> web.Response:
    """What the phone found it can do (camera, microphone, WebRTC, recording, the
    round trip to this server); recorded, and judged here so the bar is one place."""
    body = await parse_body(request, DeviceReport)
    principal = principal_of(request)
    assert principal.application_id is not None
    problems = [
        name for name in ("camera", "microphone", "webrtc", "recorder") if not getattr(body, name)
    ]
    if body.rtt_ms > MAX_DEVICE_RTT_MS:
        problems.append("network")
    ok = not problems
    async with request.app[ENGINE].begin() as conn:
        since = datetime.now(UTC) - timedelta(hours=1)
        if (
            await audit.count_since(
                conn, principal.application_id, InterviewAction.DEVICE_CHECKED, since
            )
            >= DEVICE_CHECKS_PER_HOUR
        ):
            # Each check is an audit entry: repeated ones must not grow the log.
            raise errors.TooManyRequests(
                "the device was checked many times in the last hour; try again later",
                retry_after=600,
            )
        await audit.append(
            conn,
            principal.actor,
            InterviewAction.DEVICE_CHECKED,
            application_id=principal.application_id,
            request_id=request.get(REQUEST_ID),
            details={"ok": ok, "problems": problems, "rtt_ms": body.rtt_ms},
        )
    return web.json_response({"ok": ok, "problems": problems})
