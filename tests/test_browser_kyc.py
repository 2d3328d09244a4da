"""Identity verification in real browsers: the applicant, on a phone-sized
Chromium whose fake camera plays a real face clip, photographs (uploads) the ID
card and the licence, passes the liveness check (a verification session: the
server's prompts and verdicts on the video it receives) and sees the result;
the manager's case page shows every field, check and score as they arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from tests.browser_support import (
    PHONE,
    Chromium,
    answering_camera,
    consent_and_check_device,
    pass_liveness,
)
from tests.document_flow import D12, documents
from tests.web_support import APPLICATION, PASSWORD, Service, start_service, stop_service

pytestmark = pytest.mark.browser


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    # The camera is d12 making each movement the page's prompt asks for
    # (browser_support.answering_camera), when the server chooses to ask.
    running = await start_service(
        tmp_path,
        sqlite_url,
        kyc_workers="1",
        liveness_challenges="2",
        liveness_fixed_challenges="blink,turn_right",
        liveness_lead_in_ms="800",
        liveness_window_seconds="2",
    )
    await running.add_user("m1", Role.MANAGER)
    yield running
    await stop_service(running)


async def test_applicant_verifies_identity_and_manager_watches_live(
    chromium: Chromium, service: Service, tmp_path: Path
) -> None:
    application_id = await service.new_application("m1")
    _invite, link = await service.invite_link("m1", application_id)
    photos = documents(tmp_path)
    phone = await chromium.launch()
    desk = await chromium.launch()
    phone_context = await phone.new_context(**PHONE)  # type: ignore[arg-type]
    await answering_camera(phone_context, D12)
    applicant = await phone_context.new_page()
    manager = await (await desk.new_context()).new_page()

    await applicant.goto(link)
    await consent_and_check_device(applicant)

    await manager.goto(str(service.base.with_path("/login")))
    await manager.fill("#username", "m1")
    await manager.fill("#password", PASSWORD)
    await manager.click("#login-form button[type=submit]")
    await manager.wait_for_url("**/manager")
    await manager.goto(str(service.base.with_path(f"/staff/applications/{application_id}")))

    for kind in ("id_front", "id_back", "licence"):
        card = f'#documents .doc-card[data-kind="{kind}"]'
        await applicant.set_input_files(f"{card} input", str(photos[kind]))
        await applicant.wait_for_selector(f"{card} .result li, {card} .result p", timeout=60_000)
        assert not await applicant.locator(f"{card} .result .fail").count(), kind
    # What the applicant saw of the ID card, as read.
    front = applicant.locator('#documents .doc-card[data-kind="id_front"] .result')
    assert str(APPLICATION["legal_rep_name"]) in await front.inner_text()

    await applicant.click("#documents-next")
    await pass_liveness(applicant, "liveness")
    # The server's prompts and verdicts, shown as they came, and its own judgement
    # of the video it received: a verification session, not an uploaded clip.
    verdicts = await applicant.locator("#liveness-verdicts li.pass").all_inner_texts()
    assert len(verdicts) == 2, verdicts  # of the attempt that passed
    staff = await service.staff("m1")
    trail = (await staff.request("GET", f"/api/applications/{application_id}/audit")).body
    liveness = [e["details"] for e in trail["items"] if e["action"] == "kyc.liveness"][-1]
    assert liveness["source"] == "verification_session"
    assert liveness["camera"]["width"] == 640, "the browser described its camera"

    # The manager's panel fills itself: every field and check, the face
    # distance, the liveness outcome with its passive score.
    panel = manager.locator("#kyc")
    await manager.wait_for_selector("#kyc .kyc-doc[data-kind='liveness'] .pass", timeout=20_000)
    text = await panel.inner_text()
    assert str(APPLICATION["company_name"]) in text
    assert str(APPLICATION["credit_code"]) in text
    assert "✗" not in text
    assert text.count("✓") >= 10
    for label in ("face_distance", "passive_title"):
        assert (
            await manager.evaluate(
                f"JSON.parse(document.getElementById('messages').textContent).{label}"
            )
            in text
        )

    verified = await apps.get_application(service.engine, SYSTEM_PRINCIPAL, application_id)
    assert verified.state.value == "identity_verified"
