"""Retention: a closed case's recordings, images, biometrics and kept packages are deleted when
their periods run out, each deletion named with its hash in a sealed audit entry; a
package made afterwards still verifies, listing the deleted files as expired, and the
verifier refuses an "expired" file no retention entry deleted."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_cert_from_pemder
from sqlalchemy import select

from audit.chain import canonical_json
from audit.log import SYSTEM
from compliance.evidence_check import verify_package
from compliance.retention import RetentionPolicy, RetentionSweeper
from kyc.liveness import Challenge
from kyc.records import complete_liveness, issue_liveness
from loans import applications as apps
from loans.access import Principal
from loans.roles import Role
from loans.states import Action
from store.blobs import BlobNamespaces
from store.schema import applications, audit_log
from tests.evidence_support import rezip
from tests.signing_support import (
    applicant_in_interview,
    free_port,
    recorded_segments,
    sign_in_interview,
)
from tests.web_support import Service, start_service, stop_service
from web.keys import BIOMETRIC_BLOBS, BLOBS, SIGNING

POLICY = RetentionPolicy(
    recordings=timedelta(days=30),
    images=timedelta(days=90),
    biometrics=timedelta(days=14),
    packages=timedelta(days=365),
)


@pytest.fixture
async def closed_case(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Service, str]]:
    service = await start_service(tmp_path, database_url, port=free_port())
    await service.add_user("m1", Role.MANAGER)
    await service.add_user("c1", Role.COMPLIANCE)
    try:
        applicant, app_id = await applicant_in_interview(service)
        # The manager's browser sent H.264: a Matroska segment beside a WebM one.
        await recorded_segments(service, app_id, manager_video="h264")
        await sign_in_interview(service, applicant, app_id)
        manager = Principal(Role.MANAGER, user_id=service.user_ids["m1"])
        await apps.act(service.engine, manager, app_id, Action.SUBMIT_FOR_REVIEW)
        compliance = await service.staff("c1")
        approved = await compliance.request(
            "POST",
            f"/api/applications/{app_id}/review",
            json={
                "decision": "approve",
                "checklist": {
                    "identity_confirmed": True,
                    "acted_voluntarily": True,
                    "contract_explained": True,
                    "recording_complete": True,
                },
            },
        )
        assert approved.status == 200, approved.text
        yield service, app_id
    finally:
        await stop_service(service)


def sweeper_for(service: Service) -> RetentionSweeper:
    app = service.server.app
    return RetentionSweeper(
        service.engine, BlobNamespaces(app[BLOBS], app[BIOMETRIC_BLOBS]), POLICY
    )


async def stored_recordings(service: Service, app_id: str) -> list[str]:
    """The recordings the audit log names whose blobs are still stored."""
    async with service.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.details).where(
                audit_log.c.application_id == app_id,
                audit_log.c.action == "call.segment_recorded",
            )
        )
        named = [json.loads(r.details) for r in rows]
    blobs = service.server.app[BLOBS]
    return sorted([str(d["file"]) for d in named if await blobs.exists(d["sha256"])])


def roots(service: Service) -> list[asn1_x509.Certificate]:
    return [load_cert_from_pemder(str(service.settings.pki_dir / "root.pem"))]  # type: ignore[no-untyped-call]


async def export(service: Service, app_id: str) -> bytes:
    compliance = await service.staff("c1")
    response = await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")
    assert response.status == 200
    return await response.read()


async def expiry_entries(service: Service) -> list[dict[str, object]]:
    async with service.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.details)
            .where(audit_log.c.action == "retention.expired")
            .order_by(audit_log.c.seq)
        )
        return [json.loads(r.details) for r in rows]


async def test_each_kind_expires_on_its_own_day_and_packages_stay_verifiable(
    closed_case: tuple[Service, str],
) -> None:
    service, app_id = closed_case
    before = await export(service, app_id)
    sweeper = sweeper_for(service)
    async with service.engine.connect() as conn:
        closed_at = (
            await conn.execute(select(applications.c.updated_at).where(applications.c.id == app_id))
        ).scalar_one()

    # An approved case one day after closing: nothing is due yet.
    assert await sweeper.sweep(closed_at + timedelta(days=1)) == {}
    assert await stored_recordings(service, app_id) == ["applicant-1.webm", "manager-1.mkv"]

    # Day 31: recordings only.
    done = await sweeper.sweep(closed_at + timedelta(days=31))
    assert done == {app_id: {"recordings": 2}}
    assert await stored_recordings(service, app_id) == []
    [entry] = await expiry_entries(service)
    assert entry["kind"] == "recordings" and entry["retention_days"] == 30
    assert {i["name"] for i in entry["items"]} == {"applicant-1.webm", "manager-1.mkv"}  # type: ignore[attr-defined]
    # Swept again the same day: nothing left to delete, nothing new in the log.
    assert await sweeper.sweep(closed_at + timedelta(days=31)) == {}
    assert len(await expiry_entries(service)) == 1
    compliance = await service.staff("c1")
    gone = await compliance.request(
        "GET", f"/api/applications/{app_id}/recordings/applicant-1.webm"
    )
    assert gone.status == 404

    # Day 91: document photos and the selfie; day 366: the kept packages.
    front = (await compliance.request("GET", f"/api/applications/{app_id}/kyc")).body["documents"][
        "id_front"
    ]["image_sha256"]
    done = await sweeper.sweep(closed_at + timedelta(days=91))
    assert set(done[app_id]) == {"images"} and done[app_id]["images"] >= 3
    expired = await compliance.request("GET", f"/api/applications/{app_id}/evidence/{front}")
    assert expired.status == 404 and "expired" in expired.text
    done = await sweeper.sweep(closed_at + timedelta(days=366))
    assert done == {app_id: {"packages": 1}}

    # The package exported before still holds on its own.
    earlier = await verify_package(before, roots(service))
    assert earlier.ok, earlier.problems
    # One made now lists the deleted files as expired, and still verifies.
    after = await export(service, app_id)
    names = zipfile.ZipFile(io.BytesIO(after)).namelist()
    assert "recordings/applicant-1.webm" not in names
    assert "kyc/documents/id_front.jpg" not in names
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(after)).read("manifest.json"))
    assert set(manifest["expired"]) >= {
        "recordings/applicant-1.webm",
        "recordings/manager-1.mkv",
        "kyc/documents/id_front.jpg",
    }
    report = await verify_package(after, roots(service))
    assert report.ok, report.problems
    assert any("expired by retention" in line for line in report.checked)


async def test_an_open_case_keeps_everything(closed_case: tuple[Service, str]) -> None:
    service, closed_id = closed_case
    _applicant, open_id = await applicant_in_interview(service)
    await recorded_segments(service, open_id)
    far = await sweeper_for(service).sweep(datetime.now(UTC) + timedelta(days=4000))
    assert open_id not in far and closed_id in far
    assert await stored_recordings(service, open_id) == ["applicant-1.webm", "manager-1.webm"]


async def test_a_file_claimed_expired_without_a_retention_entry_is_refused(
    closed_case: tuple[Service, str],
) -> None:
    """Even a manifest the bank's own key sealed cannot excuse a missing file: the
    deletion must be in the sealed audit entries."""
    service, app_id = closed_case
    package = await export(service, app_id)
    archive = zipfile.ZipFile(io.BytesIO(package))
    manifest = json.loads(archive.read("manifest.json"))
    digest = manifest["files"].pop("kyc/documents/id_front.jpg")
    manifest["expired"] = {"kyc/documents/id_front.jpg": digest}
    text = canonical_json(manifest).encode()
    seal = await service.server.app[SIGNING].seal_statement(text)
    forged = rezip(
        package,
        {"kyc/documents/id_front.jpg": None, "manifest.json": text, "manifest.cms": seal},
    )
    report = await verify_package(forged, roots(service))
    assert report.problems == [
        "kyc/documents/id_front.jpg: listed as expired, but no sealed retention entry deleted it"
    ]


async def test_biometric_data_expires_on_its_own_schedule(
    closed_case: tuple[Service, str],
) -> None:
    """The selfie, liveness clips and stills go first (PIPL: sensitive data kept
    shortest); the document photos stay for their own period."""
    service, app_id = closed_case
    blobs = service.server.app[BIOMETRIC_BLOBS]
    clip = await blobs.put(b"the applicant's liveness clip")
    still = await blobs.put(b"a still of the applicant's face")
    attempt = await issue_liveness(
        service.engine, SYSTEM, app_id, [Challenge.BLINK], valid_for=timedelta(minutes=5)
    )
    await complete_liveness(
        service.engine,
        SYSTEM,
        attempt,
        passed=True,
        result={"detected": {"blink": True}, "evidence_frames": {"face": still}},
        video_sha256=clip,
    )
    async with service.engine.connect() as conn:
        closed_at = (
            await conn.execute(select(applications.c.updated_at).where(applications.c.id == app_id))
        ).scalar_one()
    sweeper = sweeper_for(service)
    assert await sweeper.sweep(closed_at + timedelta(days=13)) == {}
    done = await sweeper.sweep(closed_at + timedelta(days=15))
    assert done == {app_id: {"biometrics": 2}}
    assert not await blobs.exists(clip) and not await blobs.exists(still)
    [entry] = await expiry_entries(service)
    assert entry["kind"] == "biometrics" and entry["retention_days"] == 14
    compliance = await service.staff("c1")
    kyc = (await compliance.request("GET", f"/api/applications/{app_id}/kyc")).body
    assert await service.server.app[BLOBS].exists(kyc["documents"]["id_front"]["image_sha256"])
    report = await verify_package(await export(service, app_id), roots(service))
    assert report.ok, report.problems
