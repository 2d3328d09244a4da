"""Personal information as Chinese law asks: three separate consent records,
biometric processing declinable with a non-face path to a signed contract, a
withdrawal that deletes what was collected, and data subjects' requests carried
out on the sealed, audited path."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyhanko.keys import load_cert_from_pemder
from sqlalchemy import func, select

from audit.log import SYSTEM
from audit.verify import verify_log
from compliance.evidence_check import verify_package
from compliance.processing_record import people_with_face_data
from kyc.liveness import Challenge
from kyc.records import complete_liveness, issue_liveness
from loans.roles import Role
from store.schema import audit_log, face_matches, liveness_attempts
from tests.document_flow import consenting_applicant, matching_documents, record_attempt, upload
from tests.signing_support import demo_code, free_port, mark_b64, read_every_page
from tests.web_support import Browser, Service, start_service, stop_service
from web.keys import BIOMETRIC_BLOBS, BLOBS


@pytest.fixture
async def service(tmp_path: Path, database_url: str) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, database_url, port=free_port(), kyc_workers="1")
    await running.add_user("m1", Role.MANAGER)
    await running.add_user("c1", Role.COMPLIANCE)
    await running.add_user("a1", Role.ADMIN)
    yield running
    await stop_service(running)


async def entries(service: Service, app_id: str, action: str) -> list[dict[str, object]]:
    async with service.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.details)
            .where(audit_log.c.application_id == app_id, audit_log.c.action == action)
            .order_by(audit_log.c.seq)
        )
        return [json.loads(r.details) for r in rows]


async def documents_sent(applicant: Browser) -> None:
    front, back, licence, _ = matching_documents()
    for kind, data in (("id_front", front), ("id_back", back), ("licence", licence)):
        read = await upload(applicant, kind, data)
        assert read.status == 201 and read.body["passed"], read.text


async def test_three_consents_are_separate_records_and_declining_runs_no_face_check(
    service: Service,
) -> None:
    applicant, app_id = await consenting_applicant(service, biometrics=False)
    consents = (await applicant.request("GET", "/api/applicant/application")).body["consents"]
    assert consents["given"] is True and consents["biometrics"] is False
    assert {r["purpose"]: r["granted"] for r in consents["records"]} == {
        "recording": True,
        "personal_data": True,
        "biometrics": False,
    }
    assert all(r["text_version"] for r in consents["records"])
    given = await entries(service, app_id, "consent.given")
    declined = await entries(service, app_id, "consent.declined")
    assert sorted(str(e["purpose"]) for e in given) == ["personal_data", "recording"]
    assert [e["purpose"] for e in declined] == ["biometrics"]
    assert declined[0]["text_version"]

    await documents_sent(applicant)
    front, *_ = matching_documents()
    refused = await applicant.request(
        "POST", "/api/applicant/selfie", data=front, headers={"Content-Type": "image/jpeg"}
    )
    assert refused.status == 409 and refused.body["code"] == "biometric_consent_missing"
    liveness = await applicant.request("POST", "/api/applicant/liveness")
    assert liveness.status == 409 and liveness.body["code"] == "biometric_consent_missing"
    async with service.engine.connect() as conn:
        for table in (face_matches, liveness_attempts):
            count = await conn.execute(
                select(func.count()).select_from(table).where(table.c.application_id == app_id)
            )
            assert count.scalar_one() == 0
    report = {"camera": True, "microphone": True, "webrtc": True, "recorder": True, "rtt_ms": 40}
    assert (
        await applicant.request("POST", "/api/applicant/device-check", json=report)
    ).status == 200
    # After the documents, the page offers the call in which the manager checks.
    page = await applicant.request("GET", "/apply")
    assert 'id="call"' in page.text
    # No face check can start: the verification session is refused before it opens.
    session = await applicant.request("GET", "/api/applicant/verification")
    assert session.status == 409 and session.body["code"] == "biometric_consent_missing"


@pytest.mark.parametrize("why", ["biometrics_declined", "liveness_failed"])
async def test_the_manager_path_reaches_a_signed_contract_flagged_for_four_eyes_review(
    service: Service, why: str
) -> None:
    """Without biometric consent, or after every liveness attempt failed, the
    manager confirms the identity on the call and the contract is signed without
    a face check; compliance must review that confirmation."""
    declined = why == "biometrics_declined"
    applicant, app_id = await consenting_applicant(service, biometrics=not declined)
    manager = await service.staff("m1")
    confirm = {"action": "confirm_identity", "comment": "ID card held to the camera; same person"}
    actions = f"/api/applications/{app_id}/actions"

    # Documents first (and, with biometrics, every liveness attempt); then no
    # confirmation outside the call.
    early = await applicant.request("POST", "/api/applicant/call/queue")
    assert early.status == 409
    await documents_sent(applicant)
    if not declined:
        for _ in range(service.settings.liveness_attempts - 1):
            await record_attempt(service, app_id, "no_match")
        assert (await applicant.request("POST", "/api/applicant/call/queue")).status == 409
        await record_attempt(service, app_id, "no_match")
    assert (await manager.request("POST", actions, json=confirm)).status == 409

    queued = await applicant.request("POST", "/api/applicant/call/queue")
    assert queued.status == 200 and queued.body["state"] == "waiting", queued.text
    waiting = (await manager.request("GET", "/api/calls/queue")).body["waiting"]
    assert [(w["application_id"], w["kyc"]) for w in waiting] == [(app_id, "manager_check")]
    accepted = await manager.request("POST", f"/api/applications/{app_id}/call")
    assert accepted.status == 200, accepted.text
    state = (await manager.request("GET", f"/api/applications/{app_id}")).body["state"]
    assert state == "invited"

    confirmed = await manager.request("POST", actions, json=confirm)
    assert confirmed.status == 200, confirmed.text
    assert confirmed.body["state"] == "in_interview"

    pushed = await manager.request("POST", f"/api/applications/{app_id}/contract")
    assert pushed.status == 201, pushed.text
    await read_every_page(applicant)
    assert (await applicant.request("POST", "/api/applicant/contract/code")).status == 200
    signed = await applicant.request(
        "POST",
        "/api/applicant/contract/sign",
        json={"code": await demo_code(manager, app_id), "mark_png": mark_b64()},
    )
    assert signed.status == 200, signed.text
    certificates = await entries(service, app_id, "pki.certificate_issued")
    assert certificates[-1]["kyc_basis"]["identity_confirmed_by"] == "manager_on_call"  # type: ignore[index]

    submitted = await manager.request("POST", actions, json={"action": "submit_for_review"})
    assert submitted.status == 200, submitted.text
    compliance = await service.staff("c1")
    case_page = await compliance.request("GET", f"/staff/applications/{app_id}")
    assert 'id="review-manager-confirmed"' in case_page.text
    checklist = {
        "identity_confirmed": True,
        "acted_voluntarily": True,
        "contract_explained": True,
        "recording_complete": True,
    }
    review = f"/api/applications/{app_id}/review"
    unreviewed = await compliance.request(
        "POST", review, json={"decision": "approve", "checklist": checklist}
    )
    assert unreviewed.status == 422
    assert unreviewed.body["details"]["unchecked"] == ["manager_confirmation_reviewed"]
    approved = await compliance.request(
        "POST",
        review,
        json={
            "decision": "approve",
            "checklist": {**checklist, "manager_confirmation_reviewed": True},
        },
    )
    assert approved.status == 200, approved.text
    assert approved.body["state"] == "approved"

    # A deletion request after signing: the contract's evidence is kept, and the
    # request is answered as refused, with the reason.
    tasks = f"/api/applications/{app_id}/subject-requests"
    asked = await compliance.request(
        "POST", tasks, json={"kind": "deletion", "note": "letter of 2026-12-07"}
    )
    answered = await compliance.request(
        "POST", f"{tasks}/{asked.body['id']}/complete", json={"note": "kept: signed contract"}
    )
    assert answered.status == 200, answered.text
    assert answered.body["status"] == "refused"
    assert answered.body["outcome"]["kept_for_contract"] is True
    assert await entries(service, app_id, "personal_data.deleted") == []


async def test_withdrawing_biometric_consent_deletes_what_was_collected(
    service: Service,
) -> None:
    applicant, app_id = await consenting_applicant(service, biometrics=True)
    await documents_sent(applicant)
    blobs = service.server.app[BIOMETRIC_BLOBS]
    clip = await blobs.put(b"a liveness clip of the applicant")
    still = await blobs.put(b"a still of the applicant's face")
    attempt = await issue_liveness(
        service.engine, SYSTEM, app_id, [Challenge.BLINK], valid_for=timedelta(minutes=5)
    )
    await complete_liveness(
        service.engine,
        SYSTEM,
        attempt,
        passed=False,
        result={"detected": {"blink": False}, "evidence_frames": {"face": still}},
        video_sha256=clip,
    )
    compliance = await service.staff("c1")
    root = load_cert_from_pemder(str(service.settings.pki_dir / "root.pem"))  # type: ignore[no-untyped-call]
    before = await (await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")).read()
    assert "kyc/liveness/face.jpg" in zipfile.ZipFile(io.BytesIO(before)).namelist()

    assert await people_with_face_data(service.engine) == 1
    admin_page = await (await service.staff("a1")).request("GET", "/admin/users")
    assert 'id="face-data"' in admin_page.text and "1" in admin_page.text
    withdrawn = await applicant.request(
        "POST", "/api/applicant/consent/biometrics", json={"granted": False}
    )
    assert withdrawn.status == 200, withdrawn.text
    assert withdrawn.body["biometrics"] is False
    assert withdrawn.body["erasure"] == {"kept_for_contract": False, "deleted": {"biometrics": 2}}
    assert not await blobs.exists(clip) and not await blobs.exists(still)
    [deletion] = await entries(service, app_id, "personal_data.deleted")
    assert deletion["kind"] == "biometrics" and deletion["reason"] == "consent_withdrawn"
    assert {i["sha256"] for i in deletion["items"]} == {clip, still}  # type: ignore[attr-defined]
    assert [e["purpose"] for e in await entries(service, app_id, "consent.withdrawn")] == [
        "biometrics"
    ]
    # No more biometric processing; the documents stay.
    liveness = await applicant.request("POST", "/api/applicant/liveness")
    assert liveness.status == 409
    async with service.engine.connect() as conn:
        assert (await verify_log(conn)).ok
    assert await people_with_face_data(service.engine) == 0
    record = (await compliance.request("GET", f"/api/applications/{app_id}/processing-record")).body
    assert record["data"]["biometrics"]["files"] == record["data"]["biometrics"]["deleted"] == 2
    assert record["data"]["images"]["files"] == 3 and record["data"]["images"]["deleted"] == 0
    assert record["data"]["biometrics"]["due_for_deletion"] == "after the case closes"
    assert [d["reason"] for d in record["deletions"]] == ["consent_withdrawn"]
    assert {c["purpose"] for c in record["consents"]} == {
        "recording",
        "personal_data",
        "biometrics",
    }
    assert "id_number" in record["processed"]["documents"]["id_front"]
    assert matching_documents()[3] not in json.dumps(record)

    earlier = await verify_package(before, [root])
    assert earlier.ok, earlier.problems
    after = await (await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")).read()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(after)).read("manifest.json"))
    assert manifest["expired"] == {"kyc/liveness/face.jpg": still}
    report = await verify_package(after, [root])
    assert report.ok, report.problems


async def test_a_deletion_request_is_a_task_with_a_due_date_carried_out_on_the_sealed_path(
    service: Service,
) -> None:
    applicant, app_id = await consenting_applicant(service, biometrics=True)
    await documents_sent(applicant)
    photos = (await applicant.request("GET", "/api/applicant/kyc")).body["documents"]
    digests = {reading["image_sha256"] for reading in photos.values()}
    compliance = await service.staff("c1")
    tasks = f"/api/applications/{app_id}/subject-requests"
    bad = await compliance.request("POST", tasks, json={"kind": "forget me", "note": "x"})
    assert bad.status == 422
    asked = await compliance.request(
        "POST", tasks, json={"kind": "deletion", "note": "asked at the branch"}
    )
    assert asked.status == 201, asked.text
    assert asked.body["status"] == "open" and asked.body["overdue"] is False
    received = datetime.fromisoformat(asked.body["received_at"])
    assert datetime.fromisoformat(asked.body["due_at"]) - received == timedelta(days=21)

    done = await compliance.request(
        "POST", f"{tasks}/{asked.body['id']}/complete", json={"note": "deleted"}
    )
    assert done.status == 200, done.text
    assert done.body["status"] == "done"
    assert done.body["outcome"]["deleted"] == {"images": 3}
    blobs = service.server.app[BLOBS]
    for digest in digests:
        assert not await blobs.exists(digest)
    [deletion] = await entries(service, app_id, "personal_data.deleted")
    assert deletion["reason"] == "erasure_request"
    assert {i["sha256"] for i in deletion["items"]} == digests  # type: ignore[attr-defined]
    [recorded] = await entries(service, app_id, "subject_request.recorded")
    [completed] = await entries(service, app_id, "subject_request.completed")
    assert recorded["kind"] == completed["kind"] == "deletion"
    again = await compliance.request(
        "POST", f"{tasks}/{asked.body['id']}/complete", json={"note": "again"}
    )
    assert again.status == 409
    listed = (await compliance.request("GET", tasks)).body["items"]
    assert [(t["kind"], t["status"]) for t in listed] == [("deletion", "done")]
    async with service.engine.connect() as conn:
        assert (await verify_log(conn)).ok


async def test_a_correction_names_the_field_and_reason_and_keeps_the_values_out_of_the_log(
    service: Service,
) -> None:
    applicant, app_id = await consenting_applicant(service, biometrics=True)
    manager = await service.staff("m1")
    path = f"/api/applications/{app_id}/correction"
    fixed = await manager.request(
        "POST",
        path,
        json={"field": "legal_rep_phone", "value": "13900139000", "reason": "number changed"},
    )
    assert fixed.status == 200, fixed.text
    assert (await manager.request("GET", f"/api/applications/{app_id}")).body[
        "legal_rep_phone"
    ] == "13900139000"
    [entry] = await entries(service, app_id, "application.corrected")
    assert entry["field"] == "legal_rep_phone" and entry["reason"] == "number changed"
    assert "13900139000" not in json.dumps(entry)
    bad = await manager.request(
        "POST", path, json={"field": "legal_rep_phone", "value": "12345", "reason": "typo"}
    )
    assert bad.status == 422
    terms = await manager.request(
        "POST", path, json={"field": "loan_amount", "value": "1.00", "reason": "cheaper"}
    )
    assert terms.status == 422
    # Once a document was read against the name, correcting it would leave the
    # checks stale: a new application is needed.
    await documents_sent(applicant)
    late = await manager.request(
        "POST", path, json={"field": "legal_rep_name", "value": "李四", "reason": "misspelt"}
    )
    assert late.status == 422, late.text
    compliance = await service.staff("c1")
    assert (
        await compliance.request(
            "POST",
            path,
            json={"field": "legal_rep_phone", "value": "13900139001", "reason": "x"},
        )
    ).status == 403
