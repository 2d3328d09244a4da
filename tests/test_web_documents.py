"""The applicant photographs documents through the API: real OCR in worker
processes, results stored with the image hash, audited, masked for staff; hostile
uploads are refused and change nothing."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import pytest
from PIL import Image
from sqlalchemy import func, select

from kyc.faces import head_crop
from kyc.intake import MIN_SIDE
from kyc.workers import KycWorkers
from loans.roles import Role
from store.schema import audit_log, kyc_documents
from tests import specimens
from tests.document_flow import TODAY, consenting_applicant, jpeg, matching_documents, upload
from tests.web_support import (
    APPLICATION,
    Service,
    start_service,
    stop_service,
)
from web.i18n import translate
from web.keys import BIOMETRIC_BLOBS, BLOBS, KYC_WORKERS


@pytest.fixture
async def kyc_service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, sqlite_url, kyc_workers="1")
    await running.add_user("m1", Role.MANAGER)
    await running.add_user("c1", Role.COMPLIANCE)
    yield running
    await stop_service(running)


async def test_documents_are_read_checked_stored_and_audited(kyc_service: Service) -> None:
    service = kyc_service
    applicant, app_id = await consenting_applicant(service)
    front, back, licence, id_number = matching_documents()
    results = {}
    for kind, data in (("id_front", front), ("id_back", back), ("licence", licence)):
        response = await upload(applicant, kind, data)
        assert response.status == 201, response.text
        results[kind] = response.body
    assert results["id_front"]["fields"]["name"]["value"] == "张三"
    # Masked even for the applicant: the page may be seen over a shoulder.
    assert (
        results["id_front"]["fields"]["id_number"]["value"]
        == id_number[:4] + "*" * 10 + id_number[-4:]
    )
    assert results["licence"]["fields"]["credit_code"]["value"] == APPLICATION["credit_code"]
    for body in results.values():
        assert body["passed"], body["checks"]

    manager = await service.staff("m1")
    staff_view = await manager.request("GET", f"/api/applications/{app_id}/kyc")
    assert set(staff_view.body["documents"]) == {"id_front", "id_back", "licence"}
    assert staff_view.body["face_match"] is None
    assert id_number not in staff_view.text
    page = await manager.request("GET", f"/staff/applications/{app_id}")
    assert "张三" in page.text and id_number not in page.text

    async with service.engine.connect() as conn:
        entries = (
            await conn.execute(select(audit_log).where(audit_log.c.action == "kyc.document_read"))
        ).all()
    assert len(entries) == 3
    assert all(id_number not in row.details for row in entries)
    digest = results["id_front"]["image_sha256"]
    assert any(digest in row.details for row in entries)
    stored = Image.open(io.BytesIO(await service.blob(digest)))
    assert stored.format == "JPEG"
    assert not stored.getexif()


async def test_exif_orientation_is_applied_and_metadata_stripped(kyc_service: Service) -> None:
    applicant, _app_id = await consenting_applicant(kyc_service)
    front, _back, _licence, _number = matching_documents()
    # The same card photographed sideways: pixels rotated, EXIF says "turn 90°".
    sideways = Image.open(io.BytesIO(front)).transpose(Image.Transpose.ROTATE_90)
    exif = sideways.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"  # camera make, personal metadata to strip
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", exif=exif, quality=92)
    response = await upload(applicant, "id_front", buffer.getvalue())
    assert response.status == 201, response.text
    assert response.body["fields"]["name"]["value"] == "张三"
    stored = Image.open(io.BytesIO(await kyc_service.blob(response.body["image_sha256"])))
    assert stored.size == Image.open(io.BytesIO(front)).size
    assert b"PhoneMaker" not in await kyc_service.blob(response.body["image_sha256"])


def png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


HOSTILE = [
    ("empty", b"", "image/jpeg", 400, "bad_request"),
    ("text as jpeg", b"hello, not a photo", "image/jpeg", 422, "unsupported_type"),
    ("gif", b"GIF89a" + b"\0" * 200, "image/png", 422, "unsupported_type"),
    ("pixel bomb", png_header(50_000, 50_000), "image/png", 422, "too_many_pixels"),
    ("huge but honest", png_header(9000, 9000), "image/png", 422, "too_many_pixels"),
    ("truncated png", png_header(800, 600), "image/png", 422, "corrupt_image"),
    (
        "jpeg magic then junk",
        b"\xff\xd8\xff\xe0" + b"\x13" * 5000,
        "image/jpeg",
        422,
        "corrupt_image",
    ),
    ("too small", tiny_png(), "image/png", 422, "too_small"),
    ("json body", b'{"a": 1}', "application/json", 415, "unsupported_media_type"),
    ("no type", b"\xff\xd8\xff", "application/octet-stream", 415, "unsupported_media_type"),
    (
        "too large",
        b"\xff\xd8\xff" + b"\0" * (12 * 1024 * 1024),
        "image/jpeg",
        413,
        "payload_too_large",
    ),
]


async def test_hostile_uploads_get_clear_4xx_and_change_nothing(kyc_service: Service) -> None:
    applicant, _app_id = await consenting_applicant(kyc_service)
    before = await kyc_service.audit_count()
    for name, data, content_type, status, code in HOSTILE:
        response = await upload(applicant, "id_front", data, content_type)
        assert response.status == status, (name, response.text)
        assert response.body["code"] == code, (name, response.body)
    assert (
        await applicant.request(
            "POST",
            "/api/applicant/documents/passport",
            data=b"x",
            headers={"Content-Type": "image/jpeg"},
        )
    ).status == 404
    assert await kyc_service.audit_count() == before
    async with kyc_service.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(kyc_documents))).scalar() == 0
    blobs = Path(kyc_service.settings.blob_dir)
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


async def test_refusals_read_in_the_applicants_language(kyc_service: Service) -> None:
    """A page shows the catalogue's text for a refused upload, in the language the
    browser asks for (zh-CN when it asks for none); the code stays the same."""
    applicant, _app_id = await consenting_applicant(kyc_service)
    refusals = [
        (b"hello, not a photo", "image/jpeg", "unsupported_type", "error_unsupported_type"),
        (tiny_png(), "image/png", "too_small", "error_photo_too_small"),
        (png_header(800, 600), "image/png", "corrupt_image", "error_corrupt_image"),
    ]
    for asked, language in ((None, "zh-CN"), ("en-GB,en;q=0.8", "en"), ("zh-CN", "zh-CN")):
        for data, content_type, code, key in refusals:
            headers = {"Content-Type": content_type}
            if asked:
                headers["Accept-Language"] = asked
            response = await applicant.request(
                "POST", "/api/applicant/documents/id_front", data=data, headers=headers
            )
            assert response.body["code"] == code, response.body
            values = response.body.get("details") or {}
            assert response.body["message"] == translate(language, key, **values), response.body
            assert "{" not in response.body["message"], response.body
    chinese = await upload(applicant, "id_front", tiny_png(), "image/png")
    assert chinese.body["message"] == f"照片尺寸太小，每边至少需要 {MIN_SIDE} 像素。"


async def test_documents_need_consent_and_an_open_case(kyc_service: Service) -> None:
    app_id = await kyc_service.new_application("m1")
    applicant = await kyc_service.applicant("m1", app_id)
    front, *_ = matching_documents()
    early = await upload(applicant, "id_front", front)
    assert early.status == 422
    assert early.body["code"] == "consent_required"
    await applicant.request(
        "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
    )
    manager = await kyc_service.staff("m1")
    cancel = await manager.request(
        "POST",
        f"/api/applications/{app_id}/actions",
        json={"action": "cancel", "comment": "withdrawn"},
    )
    assert cancel.status == 200
    # Cancelling the case ended the applicant's session (loans.invites).
    late = await upload(applicant, "id_front", front)
    assert late.status == 401 and late.body["code"] == "unauthenticated"


async def test_a_read_past_its_timeout_is_abandoned_and_the_next_one_works(
    kyc_service: Service,
) -> None:
    applicant, _app_id = await consenting_applicant(kyc_service)
    front, *_ = matching_documents()
    assert kyc_service.server.app is not None
    workers = kyc_service.server.app[KYC_WORKERS]
    assert isinstance(workers, KycWorkers)  # this node's own worker processes
    workers.timeout = 0.01
    slow = await upload(applicant, "id_front", front)
    assert slow.status == 503
    assert slow.body["code"] == "read_timed_out"
    workers.timeout = 120
    again = await upload(applicant, "id_front", front)
    assert again.status == 201, again.text


FACES = Path(__file__).parent / "data" / "faces"


async def test_selfie_is_matched_against_the_id_card_portrait(kyc_service: Service) -> None:
    applicant, app_id = await consenting_applicant(kyc_service)
    early = await applicant.request(
        "POST",
        "/api/applicant/selfie",
        data=(FACES / "biden_biden2.jpg").read_bytes(),
        headers={"Content-Type": "image/jpeg"},
    )
    assert early.status == 409  # no ID card yet
    person = dataclasses.replace(
        specimens.random_identity(random.Random(43), today=TODAY),
        name=str(APPLICATION["legal_rep_name"]),
    )
    photo = cv2.imread(str(FACES / "biden_biden.jpg"))
    assert photo is not None
    portrait = head_crop(photo)
    front = await upload(applicant, "id_front", jpeg(specimens.draw_id_front(person, portrait)))
    assert front.status == 201, front.text

    same = await applicant.request(
        "POST",
        "/api/applicant/selfie",
        data=(FACES / "biden_biden2.jpg").read_bytes(),
        headers={"Content-Type": "image/jpeg"},
    )
    assert same.status == 201, same.text
    assert same.body["decision"] == "match"
    assert same.body["reference_sha256"] == front.body["image_sha256"]
    # The selfie is biometric data: kept in its own namespace, apart from the card.
    app = kyc_service.server.app
    assert await app[BIOMETRIC_BLOBS].exists(same.body["probe_sha256"])
    assert not await app[BLOBS].exists(same.body["probe_sha256"])
    assert await app[BLOBS].exists(front.body["image_sha256"])
    other = await applicant.request(
        "POST",
        "/api/applicant/selfie",
        data=(FACES / "kit_harington_john1.jpg").read_bytes(),
        headers={"Content-Type": "image/jpeg"},
    )
    assert other.body["decision"] == "no_match"
    blank = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 120, 120)).save(blank, "JPEG")
    before = await kyc_service.audit_count()
    faceless = await applicant.request(
        "POST",
        "/api/applicant/selfie",
        data=blank.getvalue(),
        headers={"Content-Type": "image/jpeg"},
    )
    assert faceless.status == 422
    assert faceless.body["code"] == "no_usable_face"
    assert await kyc_service.audit_count() == before

    manager = await kyc_service.staff("m1")
    summary = await manager.request("GET", f"/api/applications/{app_id}/kyc")
    assert summary.body["face_match"]["decision"] == "no_match"  # the latest one
    async with kyc_service.engine.connect() as conn:
        details = [
            row.details
            for row in (
                await conn.execute(select(audit_log).where(audit_log.c.action == "kyc.face_match"))
            ).all()
        ]
    assert len(details) == 2
    assert same.body["distance"] in details[0]
    # A distance means something only against its model: the entry names it.
    named = json.loads(details[0])["face_model"]
    assert (named["engine"], named["model"]) == ("arcface", "w600k_mbf.onnx")
    assert len(named["sha256"]) == 64
