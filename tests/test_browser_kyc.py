"""Identity verification in real browsers: the applicant, on a phone-sized
Chromium whose fake camera plays a real face clip, photographs (uploads) the ID
card, the licence and a selfie, passes the liveness check and sees the result;
the manager's case page shows every field, check and score as they arrive."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.async_api import async_playwright

from kyc.faces import head_crop
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from tests import specimens
from tests.browser_support import (
    PHONE,
    chromium_missing,
    consent_and_check_device,
    launch,
    y4m_from_video,
)
from tests.web_support import APPLICATION, PASSWORD, Service, start_service, stop_service

# A copy with its licence in tests/data (see ATTRIBUTION.md there), so the browser
# tests run on a clean clone.
D12 = Path(__file__).parent / "data/video/d12.mp4"
TODAY = date(2026, 11, 29)

pytestmark = [
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    # d12 (measured once): a blink at about 2.0 s, a turn to the person's right
    # at 3.0-3.8 s. Two 2-second prompts after a 0.8 s lead-in cover both even when
    # the browser starts recording a few hundred milliseconds after the camera.
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


def first_frame(path: Path) -> np.ndarray[Any, Any]:
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read()
    capture.release()
    assert ok, path
    return frame


def documents(folder: Path) -> dict[str, Path]:
    """Photos of an ID card and licence matching the application, whose portrait is
    the person in d12, and a selfie of them."""
    rng = random.Random(77)
    person = dataclasses.replace(
        specimens.random_identity(rng, today=TODAY), name=str(APPLICATION["legal_rep_name"])
    )
    company = dataclasses.replace(
        specimens.random_company(rng, person.name, today=TODAY),
        company_name=str(APPLICATION["company_name"]),
        credit_code=str(APPLICATION["credit_code"]),
    )
    face = first_frame(D12)
    images = {
        "id_front": specimens.draw_id_front(person, head_crop(face)),
        "id_back": specimens.draw_id_back(person),
        "licence": specimens.draw_licence(company),
        "selfie": face,
    }
    paths = {}
    for kind, image in images.items():
        paths[kind] = folder / f"{kind}.jpg"
        cv2.imwrite(str(paths[kind]), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return paths


async def test_applicant_verifies_identity_and_manager_watches_live(
    service: Service, tmp_path: Path
) -> None:
    application_id = await service.new_application("m1")
    _invite, link = await service.invite_link("m1", application_id)
    photos = documents(tmp_path)
    camera = y4m_from_video(D12, tmp_path / "d12.y4m")
    async with async_playwright() as playwright:
        phone = await launch(playwright, camera)
        desk = await launch(playwright)
        applicant = await (await phone.new_context(**PHONE)).new_page()  # type: ignore[arg-type]
        manager = await (await desk.new_context()).new_page()

        await applicant.goto(link)
        await consent_and_check_device(applicant)

        await manager.goto(str(service.base.with_path("/login")))
        await manager.fill("#username", "m1")
        await manager.fill("#password", PASSWORD)
        await manager.click("#login-form button[type=submit]")
        await manager.wait_for_url("**/manager")
        await manager.goto(str(service.base.with_path(f"/staff/applications/{application_id}")))

        for kind in ("id_front", "id_back", "licence", "selfie"):
            card = f'#documents .doc-card[data-kind="{kind}"]'
            await applicant.set_input_files(f"{card} input", str(photos[kind]))
            await applicant.wait_for_selector(
                f"{card} .result li, {card} .result p", timeout=60_000
            )
            assert not await applicant.locator(f"{card} .result .fail").count(), kind
        # What the applicant saw of the ID card, as read.
        front = applicant.locator('#documents .doc-card[data-kind="id_front"] .result')
        assert str(APPLICATION["legal_rep_name"]) in await front.inner_text()

        await applicant.click("#documents-next")
        await applicant.click("#liveness-start")
        status = applicant.locator("#liveness-status.pass, #liveness-status.error")
        await status.wait_for(timeout=90_000)
        assert "pass" in (await status.get_attribute("class") or ""), await status.inner_text()

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
        await phone.close()
        await desk.close()

    verified = await apps.get_application(service.engine, SYSTEM_PRINCIPAL, application_id)
    assert verified.state.value == "identity_verified"
