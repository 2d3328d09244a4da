"""What the session page plays and shows a reviewer: the timeline read off the
audit log, the recording segments (with HTTP ranges, so the browser can seek), the
identity evidence images, and the signed contract's validation report."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from audit import log as audit
from audit.log import entries_for_application
from compliance.actions import ComplianceAction
from compliance.retention import biometric_digests, document_image_digests
from compliance.review_timeline import RECORDING_NAME, segments, timeline
from kyc.actions import KycAction
from loans import applications as apps
from loans.models import Application
from loans.roles import Role
from media.video_format import RECORDING_TYPES
from signing import contracts as contract_records
from store.database import read_only
from store.errors import BlobNotFound
from web import errors
from web.guards import principal_of, requires
from web.keys import BIOMETRIC_BLOBS, BLOBS, ENGINE, REQUEST_ID, SIGNING, VALIDATION

routes = web.RouteTableDef()

MAX_ENTRIES = 100_000


async def _application(request: web.Request) -> Application:
    return await apps.get_application(
        request.app[ENGINE],
        principal_of(request),
        request.match_info["id"],
        request_id=request.get(REQUEST_ID),
    )


@routes.get("/api/applications/{id}/timeline")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def session_timeline(request: web.Request) -> web.Response:
    application = await _application(request)
    async with read_only(request.app[ENGINE]) as conn:
        entries = await entries_for_application(conn, application.id, limit=MAX_ENTRIES)
    url = f"/api/applications/{application.id}/recordings/{{file}}"
    return web.json_response(timeline(entries, url))


@routes.get("/api/applications/{id}/recordings/{file}")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def recording(request: web.Request) -> web.StreamResponse:
    """One closed segment. Only files the audit log names for this application are
    served; the first request for a file (no range, or one from byte 0) is audited."""
    application = await _application(request)
    name = request.match_info["file"]
    if not RECORDING_NAME.match(name):
        raise errors.NotFound("no such recording")
    async with read_only(request.app[ENGINE]) as conn:
        entries = await entries_for_application(conn, application.id, limit=MAX_ENTRIES)
    known = {s.file: s for s in segments(entries)}
    if name not in known:
        raise errors.NotFound("no such recording (never recorded, or expired)")
    # The blob named by its audit entry, checked against that hash, on this node.
    try:
        path = await request.app[BLOBS].local_file(known[name].sha256)
    except BlobNotFound:
        raise errors.NotFound("no such recording (never recorded, or expired)") from None
    first_bytes = request.http_range.start in (None, 0)
    if first_bytes:
        async with request.app[ENGINE].begin() as conn:
            await audit.append(
                conn,
                principal_of(request).actor,
                ComplianceAction.RECORDING_VIEWED,
                application_id=application.id,
                request_id=request.get(REQUEST_ID),
                details={"file": name, "sha256": known[name].sha256},
            )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": RECORDING_TYPES[Path(name).suffix],
            "Cache-Control": "private, no-store",
        },
    )


@routes.get("/api/applications/{id}/contract/validation")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def contract_validation(request: web.Request) -> web.Response:
    """The signed contract validated now, as `verify-pdf` would (worker process)."""
    application = await _application(request)
    contract = await contract_records.latest_contract(request.app[ENGINE], application.id)
    if contract is None or contract.signed_sha256 is None:
        raise errors.NotFound("this application has no signed contract")
    data = await request.app[BLOBS].get(contract.signed_sha256)
    report = await request.app[VALIDATION].validate(data, request.app[SIGNING].trust_roots_der())
    return web.json_response(
        {"contract_number": contract.contract_number, "sha256": contract.signed_sha256, **report}
    )


def _media_type(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return "application/octet-stream"


@routes.get("/api/applications/{id}/evidence/{sha256}")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def evidence_item(request: web.Request) -> web.Response:
    """One photo, clip or still of this application's identity evidence, by hash:
    only hashes the application's own records name are served; each view is audited."""
    application = await _application(request)
    digest = request.match_info["sha256"]
    engine = request.app[ENGINE]
    if digest in await biometric_digests(engine, application.id):
        store = request.app[BIOMETRIC_BLOBS]
    elif digest in await document_image_digests(engine, application.id):
        store = request.app[BLOBS]
    else:
        raise errors.NotFound("no such evidence for this application")
    try:
        data = await store.get(digest)
    except BlobNotFound:
        raise errors.NotFound("this evidence has expired (retention)") from None
    async with request.app[ENGINE].begin() as conn:
        await audit.append(
            conn,
            principal_of(request).actor,
            KycAction.EVIDENCE_VIEWED,
            application_id=application.id,
            request_id=request.get(REQUEST_ID),
            details={"sha256": digest},
        )
    # Content-addressed, so the browser may keep it for the page's refreshes; never
    # a shared cache.
    return web.Response(
        body=data,
        content_type=_media_type(data),
        headers={"Cache-Control": "private, max-age=3600, immutable"},
    )
