"""The reviewer's session view: the timeline read off the audit log, recordings served
with ranges (their first read audited), the contract's validation report, the
applicant's personal-data export, and the recordings bound by the signed contract."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyhanko.keys import load_cert_from_pemder

from audit.chain import AuditEntry
from compliance.evidence_check import verify_package
from compliance.review_timeline import timeline
from loans.roles import Role
from tests.signing_support import (
    applicant_in_interview,
    free_port,
    recorded_segments,
    sign_in_interview,
)
from tests.web_support import Service, start_service, stop_service
from web.keys import BLOBS


@pytest.fixture
async def signed(
    tmp_path: Path, sqlite_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Service, str]]:
    """A signed case with both recordings; the manager's video in the codec the
    test names (indirect parameter), VP8 by default."""
    service = await start_service(tmp_path, sqlite_url, port=free_port())
    await service.add_user("m1", Role.MANAGER)
    await service.add_user("m2", Role.MANAGER)
    await service.add_user("c1", Role.COMPLIANCE)
    try:
        applicant, app_id = await applicant_in_interview(service)
        await recorded_segments(service, app_id, manager_video=getattr(request, "param", "vp8"))
        await sign_in_interview(service, applicant, app_id)
        yield service, app_id
    finally:
        await stop_service(service)


async def test_the_timeline_marks_what_happened_and_points_at_both_recordings(
    signed: tuple[Service, str],
) -> None:
    service, app_id = signed
    compliance = await service.staff("c1")
    timeline = (await compliance.request("GET", f"/api/applications/{app_id}/timeline")).body
    sides = sorted(s["side"] for s in timeline["segments"])
    assert sides == ["applicant", "manager"]
    for segment in timeline["segments"]:
        assert segment["url"] == f"/api/applications/{app_id}/recordings/{segment['file']}"
        assert segment["duration_seconds"] == 6.0
    kinds = [m["kind"] for m in timeline["markers"]]
    for expected in ("document_read", "liveness_passed", "contract_pushed", "signed"):
        assert expected in kinds, kinds
    pages = [m["page"] for m in timeline["markers"] if m["kind"] == "page_confirmed"]
    assert pages == list(range(1, len(pages) + 1)) and len(pages) >= 2
    assert kinds.index("contract_pushed") < kinds.index("page_confirmed") < kinds.index("signed")
    # Another manager's case is not theirs to replay.
    other = await service.staff("m2")
    refused = await other.request("GET", f"/api/applications/{app_id}/timeline")
    assert refused.status == 403


def test_gaps_in_what_a_reviewer_can_see_are_marked() -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    recorded: list[tuple[str, dict[str, Any]]] = [
        ("call.started", {}),
        ("call.codec_mismatch", {"to": "manager", "kind": "video", "sent": "h264"}),
        ("call.recording_failed", {"side": "applicant", "segment": 1, "error": "..."}),
        ("call.reconnect_requested", {"side": "manager", "reason": "video_codec", "codec": "h264"}),
        ("call.ended", {"reason": "manager_ended"}),
    ]
    entries = [
        AuditEntry(
            n,
            start + timedelta(seconds=n),
            "system",
            "system",
            action,
            "a",
            None,
            details,
            "0" * 64,
            "1" * 64,
        )
        for n, (action, details) in enumerate(recorded, start=1)
    ]
    markers = timeline(entries, "/{file}")["markers"]
    assert [(m["kind"], m.get("side")) for m in markers] == [
        ("call_started", None),
        ("video_not_relayed", "manager"),
        ("recording_failed", "applicant"),
        ("codec_switch", "manager"),
        ("call_ended", None),
    ]


async def test_recordings_are_served_with_ranges_and_their_first_read_is_audited(
    signed: tuple[Service, str],
) -> None:
    service, app_id = signed
    compliance = await service.staff("c1")
    path = f"/api/applications/{app_id}/recordings/applicant-1.webm"
    on_disk = (await service.recording_blob(app_id, "applicant-1.webm")).read_bytes()
    whole = await compliance.session.get(path)
    assert whole.status == 200 and whole.headers["Content-Type"] == "video/webm"
    assert await whole.read() == on_disk
    assert await service.audit_count("recording.viewed") == 1
    part = await compliance.session.get(path, headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert await part.read() == on_disk[100:200]
    # Seeking fetches ranges; only a read from the start counts as a new viewing.
    assert await service.audit_count("recording.viewed") == 1
    for name in ("../../etc/passwd", "applicant-9.webm", "x.mp4", "%2e%2e%2fsecret.webm"):
        missing = await compliance.request("GET", f"/api/applications/{app_id}/recordings/{name}")
        assert missing.status == 404, name
    # A file put into storage that no audit entry names is not served.
    assert service.server.app is not None
    await service.server.app[BLOBS].put(b"x")
    planted = await compliance.request(
        "GET", f"/api/applications/{app_id}/recordings/planted-1.webm"
    )
    assert planted.status == 404


async def test_evidence_images_are_served_by_hash_for_this_case_only(
    signed: tuple[Service, str],
) -> None:
    service, app_id = signed
    compliance = await service.staff("c1")
    kyc = (await compliance.request("GET", f"/api/applications/{app_id}/kyc")).body
    digest = kyc["documents"]["id_front"]["image_sha256"]
    image = await compliance.session.get(f"/api/applications/{app_id}/evidence/{digest}")
    assert image.status == 200 and image.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(await image.read()).hexdigest() == digest
    assert "private" in image.headers["Cache-Control"]
    assert await service.audit_count("kyc.evidence_viewed") == 1
    # A blob that exists but is not this case's evidence (the signed contract), a
    # made-up hash and a malformed one are all simply not found.
    contract = (await compliance.request("GET", f"/api/applications/{app_id}/contract")).body
    for other in (contract["signed_sha256"], "0" * 64, "../etc"):
        missing = await compliance.request("GET", f"/api/applications/{app_id}/evidence/{other}")
        assert missing.status == 404, other
    assert (
        await (await service.staff("m2")).request(
            "GET", f"/api/applications/{app_id}/evidence/{digest}"
        )
    ).status == 403
    assert await service.audit_count("kyc.evidence_viewed") == 1


async def test_the_validation_report_judges_the_signed_contract(
    signed: tuple[Service, str],
) -> None:
    service, app_id = signed
    compliance = await service.staff("c1")
    report = await compliance.request("GET", f"/api/applications/{app_id}/contract/validation")
    assert report.status == 200, report.text
    assert report.body["verdict"] == "valid", report.body
    kinds = sorted(s["kind"] for s in report.body["signatures"])
    assert kinds == ["document_timestamp", "signature", "signature"]
    assert all(s["valid"] for s in report.body["signatures"])


async def test_personal_data_export_holds_the_application_and_consents_sealed(
    signed: tuple[Service, str],
) -> None:
    service, app_id = signed
    manager = await service.staff("m1")
    refused = await manager.request("GET", f"/api/applications/{app_id}/personal-data.zip")
    assert refused.status == 403
    compliance = await service.staff("c1")
    response = await compliance.session.get(f"/api/applications/{app_id}/personal-data.zip")
    assert response.status == 200
    assert "personal-data-" in response.headers["Content-Disposition"]
    package = await response.read()
    archive = zipfile.ZipFile(io.BytesIO(package))
    record = json.loads(archive.read("applicant/record.json"))
    assert record["application"]["id"] == app_id
    assert record["application"]["legal_rep_phone"]
    purposes = {c["purpose"]: c["granted"] for c in record["consents"]}
    assert purposes == {"recording": True, "personal_data": True, "biometrics": True}
    root = load_cert_from_pemder(str(service.settings.pki_dir / "root.pem"))  # type: ignore[no-untyped-call]
    report = await verify_package(package, [root])
    assert report.ok, report.problems
    assert await service.audit_count("personal_data.exported") == 1
    # The copy kept at export is the same bytes that left.
    digest = hashlib.sha256(package).hexdigest()
    assert service.settings.blob_dir.joinpath(digest[:2], digest[2:4], digest).is_file()


@pytest.mark.parametrize("signed", ["h264"], indirect=True)
async def test_an_h264_recording_is_served_as_matroska_and_goes_into_the_evidence(
    signed: tuple[Service, str],
) -> None:
    """A browser that sent H.264 leaves a Matroska segment: the reviewer gets it
    with its own media type, and the evidence package carries it and verifies."""
    service, app_id = signed
    compliance = await service.staff("c1")
    timeline = (await compliance.request("GET", f"/api/applications/{app_id}/timeline")).body
    files = sorted(s["file"] for s in timeline["segments"])
    assert files == ["applicant-1.webm", "manager-1.mkv"]
    on_disk = (await service.recording_blob(app_id, "manager-1.mkv")).read_bytes()
    served = await compliance.session.get(f"/api/applications/{app_id}/recordings/manager-1.mkv")
    assert served.status == 200 and served.headers["Content-Type"] == "video/x-matroska"
    assert await served.read() == on_disk
    package = await (
        await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")
    ).read()
    archive = zipfile.ZipFile(io.BytesIO(package))
    assert archive.read("recordings/manager-1.mkv") == on_disk
    root = load_cert_from_pemder(str(service.settings.pki_dir / "root.pem"))  # type: ignore[no-untyped-call]
    report = await verify_package(package, [root])
    assert report.ok, report.problems


async def test_a_recording_swapped_after_signing_stops_the_export(
    signed: tuple[Service, str],
) -> None:
    """The package's own manifest is made at export, so it would list a swapped file
    with the swapped file's hash: the export checks each recording against the hash
    its audit entry names and refuses (tests/test_evidence.py has the verifier's
    side, a package re-sealed around a swapped file)."""
    service, app_id = signed
    (await service.recording_blob(app_id, "manager-1.webm")).write_bytes(b"another take")
    compliance = await service.staff("c1")
    refused = await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")
    body = await refused.json()
    assert refused.status == 409 and body["code"] == "evidence_incomplete", body
    assert body["message"].startswith("recordings/manager-1.webm: "), body
    assert await service.audit_count("evidence.refused") == 1
