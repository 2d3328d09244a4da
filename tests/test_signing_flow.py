"""The signing flow through the real app: push, read, code, fresh liveness, sign, seal,
LTV, download; validated by the service, by pdfsig (with NSS trusting the service root
and fetching OCSP from the running service) and ten years on; failures leave nothing
shown as signed and can be retried."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyhanko.keys import load_cert_from_pemder
from sqlalchemy import select

from loans.roles import Role
from signing.codes import OTP_MAX_ISSUES
from signing.validation import Verdict, validate_pdf
from store.schema import audit_log
from tests.document_flow import matching_documents
from tests.signing_support import (
    applicant_in_interview,
    demo_code,
    free_port,
    mark_b64,
    nss_trusting,
    pdfsig,
    read_every_page,
    record_liveness_pass,
)
from tests.web_support import PASSWORD, Service, start_service, stop_service
from web.keys import SIGNING


@pytest.fixture
async def signing_service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    service = await start_service(tmp_path, sqlite_url, port=free_port())
    await service.add_user("m1", Role.MANAGER)
    await service.add_user("m2", Role.MANAGER)
    await service.add_user("c1", Role.COMPLIANCE)
    try:
        yield service
    finally:
        await stop_service(service)


async def actions_of(service: Service, app_id: str) -> list[tuple[str, dict[str, object]]]:
    async with service.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.details)
                .where(audit_log.c.application_id == app_id)
                .order_by(audit_log.c.seq)
            )
        ).all()
    return [(action, json.loads(details)) for action, details in rows]


async def test_an_applicant_signs_and_every_validator_accepts_the_file(
    signing_service: Service, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the service's default level (SIGNROOM_LOG_LEVEL)
    service = signing_service
    applicant, app_id = await applicant_in_interview(service)
    manager = await service.staff("m1")

    pushed = await manager.request("POST", f"/api/applications/{app_id}/contract")
    assert pushed.status == 201, pushed.text
    assert pushed.body["status"] == "pushed" and pushed.body["page_count"] >= 2
    other = await service.staff("m2")
    assert (await other.request("GET", f"/api/applications/{app_id}/contract")).status == 403

    early = await applicant.request("POST", "/api/applicant/contract/code")
    assert early.status == 409 and early.body["code"] == "pages_unread"
    read = await read_every_page(applicant)
    assert read["pages_read"] == list(range(1, pushed.body["page_count"] + 1))
    sent = await applicant.request("POST", "/api/applicant/contract/code")
    # The demo's fake notifier: the page tells the applicant to ask the manager.
    assert sent.status == 200 and sent.body["to"] == "manager", sent.body
    code = await demo_code(manager, app_id)

    # The liveness check from identity verification is older than the contract.
    stale = await applicant.request(
        "POST", "/api/applicant/contract/sign", json={"code": code, "mark_png": mark_b64()}
    )
    assert stale.status == 409 and stale.body["code"] == "liveness_required"
    await record_liveness_pass(service, app_id)
    wrong = "000000" if code != "000000" else "111111"
    refused = await applicant.request(
        "POST", "/api/applicant/contract/sign", json={"code": wrong, "mark_png": mark_b64()}
    )
    assert refused.status == 422 and refused.body["code"] == "code_rejected"
    # The phone's page shows why in the applicant's language.
    assert refused.body["details"] == {"reason": "wrong"}
    assert refused.body["message"] == "验证码不正确。"
    blank = await applicant.request(
        "POST", "/api/applicant/contract/sign", json={"code": code, "mark_png": ""}
    )
    assert blank.status == 422

    signed = await applicant.request(
        "POST", "/api/applicant/contract/sign", json={"code": code, "mark_png": mark_b64()}
    )
    assert signed.status == 200, signed.text
    assert signed.body["status"] == "signed"
    application = await manager.request("GET", f"/api/applications/{app_id}")
    assert application.body["state"] == "contract_signed"
    again = await applicant.request(
        "POST", "/api/applicant/contract/sign", json={"code": code, "mark_png": mark_b64()}
    )
    assert again.status == 409

    download = await applicant.session.get("/api/applicant/contract/document")
    pdf = await download.read()
    assert download.status == 200 and pdf.startswith(b"%PDF-")
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)

    # The service's own validator, through its upload page's API.
    report = await manager.request(
        "POST", "/api/verify-pdf", data=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert report.status == 200, report.text
    assert report.body["verdict"] == "valid", report.body
    kinds = [(s["kind"], s["field_name"]) for s in report.body["signatures"]]
    assert kinds[:2] == [("signature", "applicant"), ("signature", "bank")]
    assert kinds[2][0] == "document_timestamp"
    assert "IDSHA256:" in report.body["signatures"][0]["signer"]

    # pdfsig: every signature valid; with NSS trusting the root (and the running
    # service answering OCSP) the certificates validate too.
    plain = await asyncio.to_thread(pdfsig, path)
    assert plain.count("Signature Validation: Signature is Valid.") == 2, plain
    root_pem = service.settings.pki_dir / "root.pem"
    nss = nss_trusting(tmp_path / "nss", root_pem)
    trusted = await asyncio.to_thread(pdfsig, path, nss)
    assert trusted.count("Certificate Validation: Certificate is Trusted.") == 2, trusted

    # Ten years on, with nothing but the file and the root.
    root = load_cert_from_pemder(str(root_pem))  # type: ignore[no-untyped-call]
    later = await validate_pdf(pdf, [root], at=datetime.now(UTC) + timedelta(days=3653))
    assert later.verdict is Verdict.VALID, later

    trail = await actions_of(service, app_id)
    names = [action for action, _ in trail]
    for expected in (
        "contract.pushed",
        "contract.page_read",
        "contract.code_sent",
        "contract.code_rejected",
        "contract.code_accepted",
        "pki.certificate_issued",
        "contract.applicant_signed",
        "contract.bank_sealed",
        "contract.long_term_validation",
        "contract.signed",
    ):
        assert expected in names, expected
    steps = [
        d
        for a, d in trail
        if a
        in ("contract.applicant_signed", "contract.bank_sealed", "contract.long_term_validation")
    ]
    assert steps[0]["document_sha256_before"] == pushed.body["pdf_sha256"]
    for before, after in itertools.pairwise(steps):
        assert after["document_sha256_before"] == before["document_sha256_after"]
    issued = next(d for a, d in trail if a == "pki.certificate_issued")
    assert set(issued["kyc_basis"]["documents"]) == {"id_front", "id_back", "licence"}  # type: ignore[index]
    assert "11010" not in json.dumps(trail)  # no ID number in the trail, only its hash
    assert (await manager.request("GET", "/api/audit/verify")).status == 403
    compliance = await service.staff("c1")
    assert (await compliance.request("GET", "/api/audit/verify")).body["ok"] is True

    metrics = (await manager.request("GET", "/metrics")).text
    for step in ("render", "applicant_sign", "bank_sign", "long_term_validation"):
        assert f'signroom_signing_duration_seconds_count{{outcome="ok",step="{step}"}} 1.0' in (
            metrics
        ), step
    assert 'operation="read_id_front",outcome="passed"' in metrics
    assert 'route="/api/applicant/contract/sign",status="200"' in metrics
    assert "signroom_event_loop_lag_seconds" in metrics
    assert "signroom_active_calls 0.0" in metrics

    # Nothing personal or secret reached the logs of the whole run: not the ID number
    # read from the card, not the staff password, not the session or invite tokens.
    logged = "\n".join(
        record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records
    )
    id_number = matching_documents()[3]
    assert caplog.records and id_number not in logged and id_number[-8:] not in logged
    assert PASSWORD not in logged
    assert "/i/" not in logged.replace("/i/<token>", "")


async def test_a_failing_timestamp_leaves_nothing_signed_and_the_step_can_be_retried(
    signing_service: Service,
) -> None:
    service = signing_service
    applicant, app_id = await applicant_in_interview(service)
    manager = await service.staff("m1")
    assert (await manager.request("POST", f"/api/applications/{app_id}/contract")).status == 201
    await read_every_page(applicant)
    await record_liveness_pass(service, app_id)
    assert service.server.app is not None
    signing = service.server.app[SIGNING]
    working = signing.settings
    # A TSA that is not there: a closed port on loopback.
    signing.settings = dataclasses.replace(working, tsa_url=f"http://127.0.0.1:{free_port()}/")
    assert (await applicant.request("POST", "/api/applicant/contract/code")).status == 200
    failed = await applicant.request(
        "POST",
        "/api/applicant/contract/sign",
        json={"code": await demo_code(manager, app_id), "mark_png": mark_b64()},
    )
    assert failed.status == 503, failed.text
    assert failed.body["code"] == "timestamp_unavailable"
    assert failed.body["details"]["step"] == "applicant_sign"
    status = (await applicant.request("GET", "/api/applicant/contract")).body
    assert status["status"] == "failed" and status["signed_sha256"] is None
    assert status["progress"] is None  # the applicant's signature did not happen
    assert (await applicant.request("GET", "/api/applicant/contract/document")).status == 409
    assert (await manager.request("GET", f"/api/applications/{app_id}")).body["state"] == (
        "in_interview"
    )

    signing.settings = working
    assert (await applicant.request("POST", "/api/applicant/contract/code")).status == 200
    retried = await applicant.request(
        "POST",
        "/api/applicant/contract/sign",
        json={"code": await demo_code(manager, app_id), "mark_png": mark_b64()},
    )
    assert retried.status == 200, retried.text
    assert retried.body["status"] == "signed"
    names = [a for a, _ in await actions_of(service, app_id)]
    assert "contract.signing_failed" in names
    assert names[-2:] == ["contract.signed", "application.transition"]


async def test_the_bank_steps_run_once_when_the_manager_retries_during_signing(
    signing_service: Service,
) -> None:
    """The applicant's sign request is still sealing when the manager presses
    "complete" twice: one seal, one LTV step, one signed contract, and every caller
    is told it is signed."""
    service = signing_service
    applicant, app_id = await applicant_in_interview(service)
    manager = await service.staff("m1")
    assert (await manager.request("POST", f"/api/applications/{app_id}/contract")).status == 201
    await read_every_page(applicant)
    await record_liveness_pass(service, app_id)
    assert (await applicant.request("POST", "/api/applicant/contract/code")).status == 200
    code = await demo_code(manager, app_id)
    assert service.server.app is not None
    signing = service.server.app[SIGNING]
    real_seal = signing.sign_bank

    async def slow_seal(pdf: bytes, place: object) -> bytes:
        await asyncio.sleep(1.0)  # a token or a TSA on a slow day
        return await real_seal(pdf, place)  # type: ignore[arg-type]

    signing.sign_bank = slow_seal  # type: ignore[method-assign]
    signing_request = asyncio.ensure_future(
        applicant.request(
            "POST", "/api/applicant/contract/sign", json={"code": code, "mark_png": mark_b64()}
        )
    )
    for _ in range(200):
        if (await actions_of(service, app_id))[-1][0] == "contract.applicant_signed":
            break
        await asyncio.sleep(0.05)
    retries = [
        manager.request("POST", f"/api/applications/{app_id}/contract/complete") for _ in range(2)
    ]
    answers = await asyncio.gather(signing_request, *retries)
    for answer in answers:
        assert answer.status == 200, answer.text
        assert answer.body["status"] == "signed", answer.body
    names = [action for action, _ in await actions_of(service, app_id)]
    assert names.count("contract.bank_sealed") == 1, names
    assert names.count("contract.long_term_validation") == 1, names
    assert names.count("contract.signed") == 1, names
    assert "contract.signing_failed" not in names
    case = await manager.request("GET", f"/api/applications/{app_id}")
    assert case.body["state"] == "contract_signed"


async def test_one_time_codes_cannot_be_reissued_without_limit(signing_service: Service) -> None:
    """Each new code resets the five tries, so the codes themselves are limited:
    five an hour per contract; the newest still works."""
    service = signing_service
    applicant, app_id = await applicant_in_interview(service)
    manager = await service.staff("m1")
    assert (await manager.request("POST", f"/api/applications/{app_id}/contract")).status == 201
    await read_every_page(applicant)
    for _ in range(OTP_MAX_ISSUES):
        assert (await applicant.request("POST", "/api/applicant/contract/code")).status == 200
    code = await demo_code(manager, app_id)
    refused = await applicant.request("POST", "/api/applicant/contract/code")
    assert refused.status == 429 and refused.body["code"] == "too_many_codes", refused.text
    assert refused.body["message"] == f"一小时内已发送 {OTP_MAX_ISSUES} 次验证码，请稍后再试。"
    assert await demo_code(manager, app_id) == code  # the refusal issued nothing
    await record_liveness_pass(service, app_id)
    signed = await applicant.request(
        "POST", "/api/applicant/contract/sign", json={"code": code, "mark_png": mark_b64()}
    )
    assert signed.status == 200, signed.text
