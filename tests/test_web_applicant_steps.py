"""The applicant's page shows one step at a time, chosen by the server from what is
done: consent, the device check (judged and audited by the server), documents,
liveness, the interview, done."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from loans.states import Action
from store.schema import audit_log
from tests.document_flow import consenting_applicant, matching_documents, upload
from tests.signing_support import record_liveness_pass
from tests.web_support import APPLICATION, Browser, Service, start_service, stop_service

GOOD = {"camera": True, "microphone": True, "webrtc": True, "recorder": True, "rtt_ms": 40}


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, sqlite_url, kyc_workers="1")
    await running.add_user("m1", Role.MANAGER)
    yield running
    await stop_service(running)


async def current_step(applicant: Browser) -> str:
    page = await applicant.request("GET", "/apply")
    assert page.status == 200
    found = re.search(r'id="steps" data-current="(\w+)"', page.text)
    assert found, page.text[:500]
    visible = re.findall(r'<section class="card" id="(\w+)" data-steps="[\w ]+"\s*>', page.text)
    # Only the current step's sections are rendered visible.
    assert all(found.group(1) in _steps_of(page.text, name) for name in visible), visible
    return found.group(1)


def _steps_of(html: str, section: str) -> list[str]:
    match = re.search(rf'id="{section}" data-steps="([\w ]+)"', html)
    return match.group(1).split() if match else []


async def test_the_steps_follow_what_is_done(service: Service) -> None:
    app_id = await service.new_application("m1")
    fresh = await service.applicant("m1", app_id)
    landing = (await fresh.request("GET", "/apply")).text
    assert "consent-form" in landing
    # Who asks, before anything else, and the greeting is for the person.
    assert f"{service.settings.bank_name} · {APPLICATION['company_name']}的贷款申请" in landing
    assert f"<h1>{APPLICATION['legal_rep_name']}，您好</h1>" in landing

    applicant, app_id = await consenting_applicant(service)
    assert await current_step(applicant) == "device"

    failed = await applicant.request(
        "POST", "/api/applicant/device-check", json={**GOOD, "camera": False, "rtt_ms": 4000}
    )
    assert failed.status == 200 and failed.body == {"ok": False, "problems": ["camera", "network"]}
    assert await current_step(applicant) == "device"

    passed = await applicant.request("POST", "/api/applicant/device-check", json=GOOD)
    assert passed.body == {"ok": True, "problems": []}
    assert await current_step(applicant) == "documents"
    async with service.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.details).where(
                    audit_log.c.action == "applicant.device_checked",
                    audit_log.c.application_id == app_id,
                )
            )
        ).all()
    assert [json.loads(r.details)["ok"] for r in rows] == [False, True]

    front, back, licence, _id_number = matching_documents()
    for kind, data in (("id_front", front), ("id_back", back), ("licence", licence)):
        assert (await upload(applicant, kind, data)).status == 201
    assert await current_step(applicant) == "liveness"

    await record_liveness_pass(service, app_id)
    await apps.act(service.engine, SYSTEM_PRINCIPAL, app_id, Action.VERIFY_IDENTITY)
    assert await current_step(applicant) == "interview"


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "rtt_ms": -1},
        {**GOOD, "camera": "yes"},
        {**GOOD, "extra": 1},
        {"camera": True},
        [],
        "not json",
    ],
)
async def test_a_malformed_device_report_is_refused_and_changes_nothing(
    service: Service, body: object
) -> None:
    applicant, _app_id = await consenting_applicant(service)
    before = await service.audit_count("applicant.device_checked")
    if isinstance(body, str):
        answer = await applicant.request(
            "POST",
            "/api/applicant/device-check",
            data=body,
            headers={"Content-Type": "application/json"},
        )
    else:
        answer = await applicant.request("POST", "/api/applicant/device-check", json=body)
    assert answer.status in (400, 422), answer.text
    assert await service.audit_count("applicant.device_checked") == before
    assert await current_step(applicant) == "device"
