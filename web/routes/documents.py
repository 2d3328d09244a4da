"""Identity evidence: the applicant uploads photos of the ID card and business
licence and a selfie for the face match; managers and compliance read the results
(ID numbers masked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from kyc.identity_paths import UPLOAD_SOURCE, verify_when_complete
from kyc.liveness import Challenge, random_challenges
from kyc.records import (
    complete_liveness,
    failed_liveness_count,
    get_liveness,
    issue_liveness,
    latest_face_match,
    latest_liveness,
    latest_readings,
    save_face_match,
    save_reading,
)
from kyc.source_checks import ask_about, latest_source_checks
from kyc.workers import DocumentKind, Expectations
from loans import applications as apps
from loans.consent import current_consents
from loans.errors import BiometricConsentMissing, ConsentRequired
from loans.models import Application
from loans.roles import Role
from loans.states import State
from signing.contracts import OPEN as OPEN_CONTRACT
from signing.contracts import latest_contract
from web import errors
from web.guards import principal_of, requires
from web.keys import (
    BIOMETRIC_BLOBS,
    BLOBS,
    ENGINE,
    FACE_MODEL,
    IDENTITY_SOURCES,
    KYC_WORKERS,
    METRICS,
    REQUEST_ID,
    SETTINGS,
)

routes = web.RouteTableDef()

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
VIDEO_TYPES = frozenset({"video/webm", "video/mp4"})
# Evidence is taken only before identity is verified: once the case has moved on,
# what the verification rested on must not change underneath it.
OPEN_FOR_DOCUMENTS = frozenset({State.INVITED})


def document_kind(request: web.Request) -> DocumentKind:
    try:
        return DocumentKind(request.match_info["kind"])
    except ValueError:
        raise errors.NotFound("unknown document kind") from None


async def read_image_body(request: web.Request, limit: int) -> bytes:
    if request.content_type not in IMAGE_TYPES:
        raise errors.UnsupportedMediaType("send the photo as image/jpeg, image/png or image/webp")
    return await read_body(request, limit)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing to buffer more than `limit` bytes (the app-wide JSON
    limit is far smaller, so these routes read the stream themselves)."""
    if request.content_length is not None and request.content_length > limit:
        raise errors.PayloadTooLarge(f"uploads are limited to {limit // (1024 * 1024)} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(f"uploads are limited to {limit // (1024 * 1024)} MiB")
        chunks.append(chunk)
    if not size:
        raise errors.BadRequest("the upload is empty")
    return b"".join(chunks)


async def open_application(
    request: web.Request, *, liveness: bool = False, biometric: bool = False
) -> Application:
    """The applicant's application, if it takes identity evidence now; `biometric`
    evidence (a selfie, a liveness clip) only with the applicant's biometric consent.

    A liveness check is also taken during the interview while a contract waits
    for signature: signing needs a fresh one (interview.contract_flow).
    """
    principal = principal_of(request)
    assert principal.application_id is not None
    engine = request.app[ENGINE]
    app = await apps.get_application(engine, principal, principal.application_id)
    if app.state not in OPEN_FOR_DOCUMENTS and not (
        liveness and await signing_pending(engine, app) is not None
    ):
        raise errors.Conflict(
            f"identity evidence cannot be sent while the application is {app.state}"
        )
    consents = await current_consents(engine, app.id)
    if not consents.given:
        raise ConsentRequired("agree to recording and data use first")
    if biometric and consents.biometrics is not True:
        raise BiometricConsentMissing(
            "face matching needs your consent to biometric processing; without it your "
            "account manager confirms your identity on the video call"
        )
    return app


async def signing_pending(engine: AsyncEngine, app: Application) -> datetime | None:
    """When the contract waiting for this applicant's signature was pushed, if one is."""
    if app.state is not State.IN_INTERVIEW:
        return None
    contract = await latest_contract(engine, app.id)
    if contract is None or contract.status not in OPEN_CONTRACT or contract.partial_step:
        return None
    return contract.pushed_at


@routes.post("/api/applicant/documents/{kind}")
@requires(Role.APPLICANT)
async def upload_document(request: web.Request) -> web.Response:
    kind = document_kind(request)
    principal = principal_of(request)
    engine = request.app[ENGINE]
    settings = request.app[SETTINGS]
    app = await open_application(request)
    data = await read_image_body(request, settings.max_upload_bytes)
    today = datetime.now(ZoneInfo(settings.display_timezone)).date()
    metrics = request.app[METRICS]
    with metrics.timed(metrics.kyc, operation=f"read_{kind.value}") as labels:
        result = await request.app[KYC_WORKERS].read(
            kind,
            data,
            today=today,
            expect=Expectations(app.legal_rep_name, app.company_name, app.credit_code),
        )
        labels["outcome"] = "passed" if result.reading.passed else "failed"
    digest = await request.app[BLOBS].put(result.stored_image)
    stored = await save_reading(
        engine,
        principal.actor,
        app.id,
        kind,
        digest,
        result.reading,
        request_id=request.get(REQUEST_ID),
    )
    body = stored.as_json(reveal_id_number=False)
    answered = await ask_about(
        engine,
        request.app[IDENTITY_SOURCES],
        principal.actor,
        app.id,
        stored,
        legal_representative=app.legal_rep_name,
        request_id=request.get(REQUEST_ID),
    )
    if answered is not None:
        body["source_check"] = answered.as_json()
    return web.json_response(body, status=201)


async def kyc_summary(request: web.Request, application_id: str) -> dict[str, Any]:
    """Latest reading of each document, face match and liveness attempt (ID numbers
    masked)."""
    engine = request.app[ENGINE]
    readings = await latest_readings(engine, application_id)
    match = await latest_face_match(engine, application_id)
    liveness = await latest_liveness(engine, application_id)
    sources = await latest_source_checks(engine, application_id)
    return {
        "documents": {kind: r.as_json(reveal_id_number=False) for kind, r in readings.items()},
        "source_checks": {kind.value: check.as_json() for kind, check in sources.items()},
        "face_match": match.as_json() if match else None,
        "liveness": liveness.as_json() if liveness else None,
    }


@routes.post("/api/applicant/selfie")
@requires(Role.APPLICANT)
async def upload_selfie(request: web.Request) -> web.Response:
    """Compare a selfie with the portrait on the ID card front read before."""
    principal = principal_of(request)
    assert principal.application_id is not None
    engine = request.app[ENGINE]
    app = await open_application(request, biometric=True)
    front = (await latest_readings(engine, app.id)).get(DocumentKind.ID_FRONT.value)
    if front is None:
        raise errors.Conflict("photograph the photo side of your ID card first")
    data = await read_image_body(request, request.app[SETTINGS].max_upload_bytes)
    metrics = request.app[METRICS]
    with metrics.timed(metrics.kyc, operation="face_match") as labels:
        result = await request.app[KYC_WORKERS].match_face(
            await request.app[BLOBS].get(front.image_sha256), data
        )
        labels["outcome"] = result.decision.value
    probe = await request.app[BIOMETRIC_BLOBS].put(result.stored_image)
    stored = await save_face_match(
        engine,
        principal.actor,
        app.id,
        reference_sha256=front.image_sha256,
        probe_sha256=probe,
        distance=result.distance,
        decision=result.decision.value,
        face_model=request.app[FACE_MODEL].reference(),
        source=UPLOAD_SOURCE,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(stored.as_json(), status=201)


@routes.get("/api/applicant/kyc")
@requires(Role.APPLICANT)
async def applicant_kyc(request: web.Request) -> web.Response:
    principal = principal_of(request)
    assert principal.application_id is not None
    return web.json_response(await kyc_summary(request, principal.application_id))


@routes.get("/api/applications/{id}/kyc")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def application_kyc(request: web.Request) -> web.Response:
    app = await apps.get_application(
        request.app[ENGINE],
        principal_of(request),
        request.match_info["id"],
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(await kyc_summary(request, app.id))


def challenges_for(settings: Settings) -> list[Challenge]:
    fixed = [Challenge(c) for c in settings.liveness_fixed_challenges.split(",") if c]
    return fixed or random_challenges(settings.liveness_challenges)


async def liveness_allowed(request: web.Request, app: Application, *, limited: bool = True) -> str:
    """Refuses another liveness attempt without the ID card's photo side, or
    (`limited`) once every attempt failed; the photo side's image digest (the
    portrait)."""
    engine = request.app[ENGINE]
    front = (await latest_readings(engine, app.id)).get(DocumentKind.ID_FRONT.value)
    if front is None:
        raise errors.Conflict("photograph the photo side of your ID card first")
    since = await signing_pending(engine, app)
    failed = await failed_liveness_count(engine, app.id, since=since)
    if limited and failed >= request.app[SETTINGS].liveness_attempts:
        error = errors.Conflict(
            "the liveness check did not succeed; your account manager will continue with "
            "you on the video call"
        )
        error.code = "liveness_attempts_exhausted"
        raise error
    return front.image_sha256


@routes.post("/api/applicant/liveness")
@requires(Role.APPLICANT)
async def start_liveness(request: web.Request) -> web.Response:
    """Issue random challenges; the page records a clip while showing them."""
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    principal = principal_of(request)
    engine = request.app[ENGINE]
    settings = request.app[SETTINGS]
    app = await open_application(request, liveness=True, biometric=True)
    await liveness_allowed(request, app)
    challenges = challenges_for(settings)
    lead_in = settings.liveness_lead_in_ms / 1000
    window = settings.liveness_window_seconds
    attempt = await issue_liveness(
        engine,
        principal.actor,
        app.id,
        challenges,
        # Time to show every prompt, plus a minute to upload.
        valid_for=timedelta(seconds=lead_in + window * len(challenges) + 60),
        request_id=request.get(REQUEST_ID),
    )
    body = attempt.as_json()
    body["lead_in_ms"] = settings.liveness_lead_in_ms
    body["window_ms"] = window * 1000
    return web.json_response(body, status=201)


@routes.post("/api/applicant/liveness/{attempt_id}/video")
@requires(Role.APPLICANT)
async def liveness_video(request: web.Request) -> web.Response:
    principal = principal_of(request)
    engine = request.app[ENGINE]
    settings = request.app[SETTINGS]
    app = await open_application(request, liveness=True, biometric=True)
    attempt = await get_liveness(engine, app.id, request.match_info["attempt_id"])
    if attempt is None:
        raise errors.NotFound("no such liveness attempt")
    if attempt.status != "issued":
        raise errors.Conflict("this liveness attempt has been used; start a new one")
    if attempt.expires_at <= datetime.now(UTC):
        raise errors.Gone("this liveness attempt has expired; start a new one")
    if request.content_type not in VIDEO_TYPES:
        raise errors.UnsupportedMediaType("send the recording as video/webm or video/mp4")
    video = await read_body(request, settings.max_video_bytes)
    front = (await latest_readings(engine, app.id))[DocumentKind.ID_FRONT.value]
    biometric_blobs = request.app[BIOMETRIC_BLOBS]
    metrics = request.app[METRICS]
    with metrics.timed(metrics.kyc, operation="liveness") as labels:
        result = await request.app[KYC_WORKERS].check_liveness(
            video,
            await request.app[BLOBS].get(front.image_sha256),
            attempt.challenges,
            lead_in=settings.liveness_lead_in_ms / 1000,
            window=settings.liveness_window_seconds,
        )
        labels["outcome"] = "passed" if result.passed else "failed"
    passed = result.passed
    outcome: dict[str, Any] = {
        # Weaker than a verification session: the server cannot tell this clip
        # from any other file; the manager re-checks on the call (live_identity).
        "source": UPLOAD_SOURCE,
        "detected": {c.value: d for c, d in zip(attempt.challenges, result.detected, strict=True)},
        "face_distance": f"{result.distance:.4f}" if result.distance is not None else None,
        "face_decision": result.decision.value if result.decision else None,
        "face_model": request.app[FACE_MODEL].reference(),
        "face_problem": result.face_problem,
        "passive": result.passive.as_json() if result.passive else None,
        "evidence_frames": {
            name: await biometric_blobs.put(still)
            for name, still in sorted(result.evidence.items())
        },
    }
    digest = await biometric_blobs.put(video)
    done = await complete_liveness(
        engine,
        principal.actor,
        attempt,
        passed=passed,
        result=outcome,
        video_sha256=digest,
        request_id=request.get(REQUEST_ID),
    )
    body = done.as_json()
    body["application_state"] = (
        await verify_when_complete(
            engine,
            app.id,
            request.app[IDENTITY_SOURCES].required,
            request_id=request.get(REQUEST_ID),
        )
        if passed
        else app.state
    ).value
    if not passed:
        body["attempts_left"] = max(
            settings.liveness_attempts
            - await failed_liveness_count(engine, app.id, since=await signing_pending(engine, app)),
            0,
        )
    return web.json_response(body)
