"""Identity documents: the applicant uploads photos of the ID card and business
licence; managers and compliance read the results (ID numbers masked)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from kyc.records import latest_readings, save_reading
from kyc.workers import DocumentKind, Expectations
from loans import applications as apps
from loans.consent import current_consent
from loans.errors import ConsentRequired
from loans.roles import Role
from loans.states import State
from web import errors
from web.guards import principal_of, requires
from web.keys import BLOBS, ENGINE, KYC_WORKERS, REQUEST_ID, SETTINGS

routes = web.RouteTableDef()

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
# Documents are read while the case waits for its identity check or its call.
OPEN_FOR_DOCUMENTS = frozenset({State.INVITED, State.IDENTITY_VERIFIED})


def document_kind(request: web.Request) -> DocumentKind:
    try:
        return DocumentKind(request.match_info["kind"])
    except ValueError:
        raise errors.NotFound("unknown document kind") from None


async def read_image_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing to buffer more than `limit` bytes (the app-wide JSON
    limit is far smaller, so this route reads the stream itself)."""
    if request.content_type not in IMAGE_TYPES:
        raise errors.UnsupportedMediaType("send the photo as image/jpeg, image/png or image/webp")
    if request.content_length is not None and request.content_length > limit:
        raise errors.PayloadTooLarge(f"photos are limited to {limit // (1024 * 1024)} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(f"photos are limited to {limit // (1024 * 1024)} MiB")
        chunks.append(chunk)
    if not size:
        raise errors.BadRequest("the photo is empty")
    return b"".join(chunks)


@routes.post("/api/applicant/documents/{kind}")
@requires(Role.APPLICANT)
async def upload_document(request: web.Request) -> web.Response:
    kind = document_kind(request)
    principal = principal_of(request)
    assert principal.application_id is not None
    engine = request.app[ENGINE]
    settings = request.app[SETTINGS]
    app = await apps.get_application(engine, principal, principal.application_id)
    if app.state not in OPEN_FOR_DOCUMENTS:
        raise errors.Conflict(f"documents cannot be sent while the application is {app.state}")
    if await current_consent(engine, app.id) is None:
        raise ConsentRequired("agree to recording and data use first")
    data = await read_image_body(request, settings.max_upload_bytes)
    today = datetime.now(ZoneInfo(settings.display_timezone)).date()
    result = await request.app[KYC_WORKERS].read(
        kind,
        data,
        today=today,
        expect=Expectations(app.legal_rep_name, app.company_name, app.credit_code),
    )
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
    return web.json_response(stored.as_json(reveal_id_number=False), status=201)


@routes.get("/api/applicant/documents")
@requires(Role.APPLICANT)
async def applicant_documents(request: web.Request) -> web.Response:
    principal = principal_of(request)
    assert principal.application_id is not None
    readings = await latest_readings(request.app[ENGINE], principal.application_id)
    return web.json_response(
        {kind: r.as_json(reveal_id_number=False) for kind, r in readings.items()}
    )


@routes.get("/api/applications/{id}/documents")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def application_documents(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    app = await apps.get_application(
        engine,
        principal_of(request),
        request.match_info["id"],
        request_id=request.get(REQUEST_ID),
    )
    readings = await latest_readings(engine, app.id)
    return web.json_response(
        {kind: r.as_json(reveal_id_number=False) for kind, r in readings.items()}
    )
