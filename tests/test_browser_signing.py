"""Signing in real browsers: during the interview the manager pushes the contract; the
applicant, on a phone-sized Chromium whose fake camera plays a real face clip, reads it
page by page, enters the code, passes a fresh liveness check, draws a signature, signs
and downloads the PDF, which pdfsig and the service's validator both accept."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page
from pyhanko.keys import load_cert_from_pemder

from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL, Principal
from loans.roles import Role
from loans.states import Action
from signing.validation import Verdict, validate_pdf
from tests.browser_support import (
    PHONE,
    Chromium,
    answering_camera,
    consent_and_check_device,
    pass_liveness,
)
from tests.document_flow import D12, documents
from tests.signing_support import free_port, pdfsig, record_liveness_pass
from tests.web_support import PASSWORD, Service, start_service, stop_service
from web.i18n import translate

pytestmark = pytest.mark.browser


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    # The same fixed prompts as the identity-verification browser test (see there).
    running = await start_service(
        tmp_path,
        sqlite_url,
        port=free_port(),
        kyc_workers="1",
        liveness_challenges="2",
        liveness_fixed_challenges="blink,turn_right",
        liveness_lead_in_ms="800",
        liveness_window_seconds="2",
    )
    await running.add_user("m1", Role.MANAGER)
    yield running
    await stop_service(running)


async def draw_signature(page: Page) -> None:
    box = await page.locator("#contract-mark").bounding_box()
    assert box is not None
    left, top = box["x"] + 20, box["y"] + box["height"] / 2
    await page.mouse.move(left, top)
    await page.mouse.down()
    for step in range(1, 40):
        await page.mouse.move(left + step * (box["width"] - 40) / 40, top + (step % 5 - 2) * 12)
    await page.mouse.up()


async def test_an_applicant_reads_and_signs_on_a_phone(
    chromium: Chromium, service: Service, tmp_path: Path
) -> None:
    application_id = await service.new_application("m1")
    _invite, link = await service.invite_link("m1", application_id)
    photos = documents(tmp_path)
    phone = await chromium.launch()
    desk = await chromium.launch()
    applicant_context = await phone.new_context(**PHONE, accept_downloads=True)  # type: ignore[arg-type]
    await answering_camera(applicant_context, D12)
    applicant = await applicant_context.new_page()
    manager = await (await desk.new_context()).new_page()

    await applicant.goto(link)
    await consent_and_check_device(applicant)
    # Identity verification has its own browser test; here its documents go
    # through the same API from the applicant's browser session.
    csrf = await applicant.get_attribute('meta[name="csrf-token"]', "content")
    for kind in ("id_front", "id_back", "licence"):
        response = await applicant_context.request.post(
            str(service.base.with_path(f"/api/applicant/documents/{kind}")),
            data=photos[kind].read_bytes(),
            headers={"Content-Type": "image/jpeg", "X-CSRF-Token": csrf or ""},
            timeout=120_000,
        )
        assert response.status == 201, await response.text()
    await record_liveness_pass(service, application_id)
    await apps.act(service.engine, SYSTEM_PRINCIPAL, application_id, Action.VERIFY_IDENTITY)
    # The page as the verified applicant sees it; the interview then starts without
    # a reload, so no call holds the fake camera: the fresh check runs as a
    # verification session.
    await applicant.reload()
    await applicant.wait_for_selector("#contract #contract-waiting")
    owner = Principal(Role.MANAGER, user_id=service.user_ids["m1"])
    await apps.act(service.engine, owner, application_id, Action.START_INTERVIEW)

    await manager.goto(str(service.base.with_path("/login")))
    await manager.fill("#username", "m1")
    await manager.fill("#password", PASSWORD)
    await manager.click("#login-form button[type=submit]")
    await manager.wait_for_url("**/manager")
    await manager.goto(str(service.base.with_path(f"/staff/applications/{application_id}")))

    await manager.click("#contract-push")
    await manager.wait_for_selector("#contract-details:not([hidden])")

    # Page by page: each confirmation is recorded before the next page shows.
    await applicant.wait_for_selector("#contract-reader:not([hidden])", timeout=15_000)
    pages = 0
    while await applicant.locator("#contract-confirm[hidden]").count():
        image = applicant.locator("#contract-page")
        await applicant.wait_for_function(
            "() => document.getElementById('contract-page').naturalWidth > 0"
        )
        assert await image.evaluate("img => img.naturalHeight > img.naturalWidth")
        await applicant.click("#contract-read")
        pages += 1
        await applicant.wait_for_timeout(300)
        assert pages < 20
    assert pages >= 2

    await applicant.click("#contract-code-send")
    await applicant.wait_for_selector("#contract-status.pass")
    code_cell = manager.locator("#contract-demo-code")
    await manager.wait_for_function(
        "() => /^[0-9]{6}$/.test(document.getElementById('contract-demo-code').textContent)",
        timeout=10_000,
    )
    await applicant.fill("#contract-code", (await code_cell.inner_text()).strip())

    await pass_liveness(applicant, "contract-liveness")

    await draw_signature(applicant)
    await applicant.click("#contract-sign")
    await applicant.wait_for_selector("#contract-done:not([hidden])", timeout=60_000)
    async with applicant.expect_download() as download_info:
        await applicant.click("#contract-download")
    download = await download_info.value
    signed = tmp_path / "signed.pdf"
    await download.save_as(str(signed))
    await manager.wait_for_function(
        "() => document.getElementById('contract-state').textContent.trim().length > 0"
    )

    output = await asyncio.to_thread(pdfsig, signed)
    assert output.count("Signature Validation: Signature is Valid.") == 2, output
    root_pem = service.settings.pki_dir / "root.pem"
    root = load_cert_from_pemder(str(root_pem))  # type: ignore[no-untyped-call]
    report = await validate_pdf(signed.read_bytes(), [root])
    assert report.verdict is Verdict.VALID, report
    # And as an operator would, with the command line, today and ten years on.
    later = (datetime.now(UTC) + timedelta(days=3653)).isoformat()
    for extra in ([], ["--at", later]):
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "cli",
                "verify-pdf",
                str(signed),
                "--trust",
                str(root_pem),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0 and "verdict: valid" in result.stdout, result.stdout
    case = await apps.get_application(service.engine, SYSTEM_PRINCIPAL, application_id)
    assert case.state.value == "contract_signed"

    # The staff validation page says the same of the downloaded file, in the
    # page's language, and refuses what is not a PDF.
    await manager.goto(str(service.base.with_path("/verify")))
    await manager.set_input_files("#verify-file", str(signed))
    await manager.wait_for_selector("#verify-status.pass", timeout=60_000)
    language = await manager.get_attribute("html", "lang") or ""
    assert await manager.inner_text("#verify-status") == translate(language, "verify_result_valid")
    # The applicant's signature, the bank's seal and the document timestamp.
    assert await manager.locator("#verify-report .doc-card").count() == 3
    report_text = await manager.inner_text("#verify-report")
    assert translate(language, "verify_signer") in report_text
    not_pdf = tmp_path / "not.pdf"
    not_pdf.write_bytes(b"GIF89a")
    await manager.set_input_files("#verify-file", str(not_pdf))
    await manager.wait_for_selector("#verify-status.error")
    assert await manager.inner_text("#verify-status") == "this is not a PDF file"
    assert not await manager.locator("#verify-report .doc-card").count()
