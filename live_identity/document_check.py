"""A document held up to the camera on the call, checked against what was read
from its uploaded photo.

The applicant's page switches to the back camera with a frame guide; the server
takes the sharpest frames of the call's own video for a few seconds, reads them
with the same reader as an upload, and compares the fields that identify the
document: the ID number and name on the ID card's photo side, the credit code
and company name on the licence. On the photo side the card's portrait must also
match the live face the call showed just before. The kyc.document_shown entry
holds outcomes and hashes, never the values.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import cv2

from audit import log as audit
from kyc.actions import KycAction
from kyc.errors import KycError
from kyc.faces import Decision
from kyc.fields import Field
from kyc.records import StoredReading
from kyc.workers import DocumentKind, Expectations, SelfieResult, UploadResult
from live_identity.verdict import LiveServices
from loans.models import Application
from media.call import Call, Side
from media.tap import TappedFrame

# How long the server looks at the document, after the page had time to switch
# to the back camera; how many of the sharpest frames it tries to read.
SWITCH_SECONDS = 1.5
SHOW_SECONDS = 8.0
# How long the server looks at the face before asking for the document.
FACE_SECONDS = 1.5
SHARPEST = 3
SHOWN_KINDS = (DocumentKind.ID_FRONT, DocumentKind.LICENCE)
KEY_FIELDS = {
    DocumentKind.ID_FRONT: ("id_number", "name"),
    DocumentKind.LICENCE: ("credit_code", "company_name"),
}

Tell = Callable[[Mapping[str, object]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Candidate:
    sharpness: float
    seconds: float
    jpeg: bytes


def _candidate(frame: TappedFrame) -> Candidate:
    """In a thread: how sharp the frame is (variance of the Laplacian), as a JPEG."""
    grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    ok, encoded = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return Candidate(sharpness if ok else 0.0, frame.seconds, encoded.tobytes() if ok else b"")


def _same(a: Field | None, b: Field | None) -> bool:
    def norm(field: Field | None) -> str:
        return "".join(field.value.split()).upper() if field is not None else ""

    return bool(norm(a)) and norm(a) == norm(b)


async def check_shown_document(
    services: LiveServices,
    call: Call,
    kind: DocumentKind,
    application: Application,
    uploaded: StoredReading,
    *,
    tell: Tell,
    stopped: asyncio.Event,
    requested_by: audit.Actor,
    request_id: str | None,
) -> dict[str, Any]:
    """Ask for the document, read it off the call, record and return the outcome."""
    # The live face, before the page turns to the back camera: the sharpest of a
    # few frames (a call's picture is often soft for a moment).
    faces = await _sharpest(call, stopped, wait=0.0, seconds=FACE_SECONDS)
    await tell({"type": "request", "kind": kind.value})
    candidates = await _sharpest(call, stopped, wait=SWITCH_SECONDS, seconds=SHOW_SECONDS)
    if stopped.is_set() or call.ended:
        return {"type": "interrupted", "kind": kind.value, "reason": "call_ended"}
    await tell({"type": "reading", "kind": kind.value})
    read = await _read(services, kind, application, candidates)
    shown = read[1].reading.fields if read is not None else {}
    agrees = {name: _same(uploaded.fields.get(name), shown.get(name)) for name in KEY_FIELDS[kind]}
    match: SelfieResult | None = None
    face = b""
    card = read[1].stored_image if read is not None and kind is DocumentKind.ID_FRONT else None
    for candidate in faces:
        if card is None:
            break
        try:
            match = await services.checks.match_face(card, candidate.jpeg)
        except KycError:
            continue  # no usable face in this frame: the next sharpest
        face = candidate.jpeg
        break
    passed = (
        read is not None
        and all(agrees.values())
        and (
            kind is not DocumentKind.ID_FRONT
            or (match is not None and match.decision is Decision.MATCH)
        )
    )
    details: dict[str, Any] = {
        "kind": kind.value,
        "source": "call",
        "passed": passed,
        "agrees": agrees,
        "read": read is not None,
        "frames_considered": len(candidates),
        "uploaded_image_sha256": uploaded.image_sha256,
        "requested_by": {"id": requested_by.id, "role": requested_by.role},
    }
    if read is not None:
        details["image_sha256"] = await services.blobs.put(read[1].stored_image)
        details["media_seconds"] = f"{read[0].seconds:.3f}"
    if match is not None:
        details["face_decision"] = match.decision.value
        details["face_distance"] = f"{match.distance:.4f}"
        details["live_face_sha256"] = await services.biometric_blobs.put(face)
    applicant = call.participants.get(Side.APPLICANT)
    connection = applicant.connection if applicant is not None else None
    if connection is not None:
        details["call_segment"] = {
            "segment": connection.index,
            "file": connection.recorder.path.name,
        }
    async with services.engine.begin() as conn:
        await audit.append(
            conn,
            requested_by,
            KycAction.DOCUMENT_SHOWN,
            application_id=application.id,
            request_id=request_id,
            details=details,
        )
    return {
        "type": "result",
        "kind": kind.value,
        "passed": passed,
        "read": read is not None,
        "agrees": agrees,
        "face_decision": match.decision.value if match else None,
    }


async def _sharpest(
    call: Call, stopped: asyncio.Event, *, wait: float, seconds: float
) -> list[Candidate]:
    """The sharpest frames the call's tap offers in `seconds` after `wait`."""
    start = time.monotonic()
    found: list[Candidate] = []
    while not stopped.is_set() and not call.ended:
        left = start + wait + seconds - time.monotonic()
        if left <= 0:
            break
        tap = call.tap
        try:
            async with asyncio.timeout(min(left, 0.5)):
                if tap is None:
                    await stopped.wait()
                frame = await tap.next_frame() if tap is not None else None
        except TimeoutError:
            continue
        if frame is None or time.monotonic() - start < wait:
            continue
        found.append(await asyncio.to_thread(_candidate, frame))
        found = sorted(found, key=lambda c: c.sharpness, reverse=True)[:SHARPEST]
    return found


async def _read(
    services: LiveServices,
    kind: DocumentKind,
    application: Application,
    candidates: list[Candidate],
) -> tuple[Candidate, UploadResult] | None:
    """The first of the sharpest frames whose identifying fields read."""
    expect = Expectations(
        application.legal_rep_name, application.company_name, application.credit_code
    )
    today = datetime.now(ZoneInfo(services.display_timezone)).date()
    for candidate in candidates:
        try:
            result = await services.checks.read(kind, candidate.jpeg, today=today, expect=expect)
        except KycError:
            continue
        if all(result.reading.fields.get(name) for name in KEY_FIELDS[kind]):
            return candidate, result
    return None
