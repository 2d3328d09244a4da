"""The whole contactless loan in real browsers, as its three users do it.

A manager (desktop) creates the application and the invite; the applicant (a
390x844 touch phone whose fake camera plays a real face clip) consents, passes the
device check, photographs the ID card and licence (file upload: the fake camera
shows a face, not a card), sees them read, passes liveness and the face match
against the ID portrait (a specimen made with that person's face), waits, and
talks with the manager through the server; the manager takes a snapshot and
records the interview checklist, pushes the contract; the applicant reads every
page, enters the code, passes a fresh face check on the call's camera, draws a
signature with touch and signs; the bank countersigns. After the call compliance
replays the recordings, approves and exports the evidence package, which
`signroom verify-evidence` accepts with only the bank's root, and pdfsig finds
every signature of the contract valid.

Screens, the package and the root it verifies against are left in var/journey/.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from tests.browser_support import (
    PHONE,
    Chromium,
    accessibility_problems,
    answering_camera,
    click_when_ready,
    consent_and_check_device,
    pass_liveness,
    wait_for_moving_video,
)
from tests.document_flow import D12, documents
from tests.signing_support import free_port, pdfsig
from tests.web_support import APPLICATION, PASSWORD, Service, start_service, stop_service

OUT = Path(__file__).parents[1] / "var" / "journey"
DESK = {"viewport": {"width": 1366, "height": 768}}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    # The liveness prompts in a fixed order (nothing skipped); the camera makes
    # each movement when its prompt shows (browser_support.answering_camera).
    running = await start_service(
        tmp_path,
        sqlite_url,
        port=free_port(),
        kyc_workers="1",
        liveness_challenges="2",
        liveness_fixed_challenges="blink,turn_right",
        liveness_lead_in_ms="800",
        liveness_window_seconds="2",
        call_grace_seconds="30",
    )
    await running.add_user("m1", Role.MANAGER)
    await running.add_user("c1", Role.COMPLIANCE)
    yield running
    await stop_service(running)


class Screens:
    """Each main screen saved as a PNG, and checked for unnamed controls and text
    below WCAG AA contrast as it is shown."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.problems: list[str] = []

    async def take(self, page: Page, name: str, *, top: bool = True) -> None:
        if top:
            await page.evaluate("window.scrollTo(0, 0)")
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=False)
        self.problems += [f"{name}: {p}" for p in await accessibility_problems(page)]


async def sign_in(page: Page, service: Service, username: str) -> None:
    await page.goto(str(service.base.with_path("/login")))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")


async def hears_sound(page: Page, selector: str) -> float:
    """Peak level (0..1) of the audio in `selector`'s stream over two seconds."""
    return float(
        await page.evaluate(
            """async (selector) => {
              const stream = document.querySelector(selector).srcObject;
              if (!stream || !stream.getAudioTracks().length) return 0;
              const context = new AudioContext();
              await context.resume();
              const analyser = context.createAnalyser();
              context.createMediaStreamSource(stream).connect(analyser);
              const samples = new Float32Array(analyser.fftSize);
              let peak = 0;
              for (let i = 0; i < 40; i += 1) {
                await new Promise((resolve) => setTimeout(resolve, 50));
                analyser.getFloatTimeDomainData(samples);
                for (const value of samples) peak = Math.max(peak, Math.abs(value));
              }
              await context.close();
              return peak;
            }""",
            selector,
        )
    )


async def draw_with_touch(page: Page, selector: str) -> None:
    """A signature drawn with a finger: touch events through the DevTools protocol
    (Playwright's touchscreen only taps)."""
    box = await page.locator(selector).bounding_box()
    assert box is not None
    cdp = await page.context.new_cdp_session(page)

    async def touch(kind: str, x: float, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
        await cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    left, middle = box["x"] + 20, box["y"] + box["height"] / 2
    await touch("touchStart", left, middle)
    for step in range(1, 40):
        x = left + step * (box["width"] - 40) / 40
        y = middle + (25 if step % 2 else -25)
        await touch("touchMove", x, y)
    await touch("touchEnd", 0, 0)
    await cdp.detach()


async def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


async def test_the_whole_loan_in_three_browsers(
    chromium: Chromium, service: Service, tmp_path: Path
) -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    screens = Screens(OUT)
    photos = documents(tmp_path)
    phone = await chromium.launch()
    desk = await chromium.launch()
    applicant_context = await phone.new_context(**PHONE, accept_downloads=True)  # type: ignore[arg-type]
    await answering_camera(applicant_context, D12)
    applicant = await applicant_context.new_page()
    manager = await (await desk.new_context(**DESK)).new_page()  # type: ignore[arg-type]
    compliance = await (await desk.new_context(**DESK, accept_downloads=True)).new_page()  # type: ignore[arg-type]

    # 1. The manager creates the application and an invite.
    await sign_in(manager, service, "m1")
    await manager.wait_for_url("**/manager")
    form = "#new-application"
    for name, value in APPLICATION.items():
        if name == "repayment_method":
            await manager.select_option(f"{form} select[name={name}]", str(value))
        else:
            await manager.fill(f"{form} input[name={name}]", str(value))
    await screens.take(manager, "manager-new-application")
    await manager.click(f"{form} button[type=submit]")
    await manager.wait_for_url("**/staff/applications/*")
    application_id = manager.url.rsplit("/", 1)[1]
    await manager.click("#create-invite")
    await manager.wait_for_selector("#new-invite:not([hidden])")
    link = await manager.input_value("#invite-link")
    await screens.take(manager, "manager-invite")

    # 2. The applicant opens the link, consents, checks the device, photographs
    # the documents and sees them read.
    await applicant.goto(link)
    await screens.take(applicant, "applicant-consent")
    await consent_and_check_device(applicant)
    await screens.take(applicant, "applicant-documents")
    for kind in ("id_front", "id_back", "licence"):
        card = f'#documents .doc-card[data-kind="{kind}"]'
        await applicant.set_input_files(f"{card} input", str(photos[kind]))
        await applicant.wait_for_selector(f"{card} .result li, {card} .result p", timeout=90_000)
        assert not await applicant.locator(f"{card} .result .fail").count(), kind
    front = applicant.locator('#documents .doc-card[data-kind="id_front"] .result')
    assert str(APPLICATION["legal_rep_name"]) in await front.inner_text()
    await screens.take(applicant, "applicant-documents-read")

    # 3. Liveness and the face match against the ID portrait.
    await click_when_ready(applicant, "#documents-next")
    await pass_liveness(applicant, "liveness")
    await screens.take(applicant, "applicant-liveness-passed")

    # 4. The queue, the call: both see and hear each other.
    await applicant.wait_for_selector("#call-join", timeout=15_000)
    await click_when_ready(applicant, "#call-join")
    await manager.goto(str(service.base.with_path("/manager")))
    await manager.wait_for_selector(f"#call-queue a[href$='{application_id}']")
    await screens.take(manager, "manager-queue")
    await manager.click(f"#call-queue a[href$='{application_id}']")
    await manager.click("#call-accept")
    await wait_for_moving_video(manager, "#call video.remote")
    await wait_for_moving_video(applicant, "#call video.remote")
    assert await hears_sound(manager, "#call video.remote") > 0.01
    assert await hears_sound(applicant, "#call video.remote") > 0.01
    await manager.click("#call-snapshot")
    await manager.wait_for_selector("#call-error:has-text('SHA-256')")
    for item in ("id_shown", "purpose_confirmed", "terms_explained", "acted_voluntarily"):
        await manager.check(f"#interview-checklist input[name={item}]")
    await manager.click("#interview-checklist button[type=submit]")
    await manager.wait_for_selector("#interview-checklist-status.pass")
    # The console holds the call, its controls, the checklist, the live identity
    # panel and the contract button on one 1366x768 screen.
    for selector in (
        "#call video.remote",
        "#call-end",
        "#interview-checklist button[type=submit]",
        "#kyc h2",
        "#contract-push",
    ):
        box = await manager.locator(selector).bounding_box()
        assert box is not None and box["y"] >= 0, selector
        assert box["y"] + box["height"] <= DESK["viewport"]["height"], (selector, box)
    await screens.take(manager, "manager-call")
    await screens.take(applicant, "applicant-call")
    await manager.click("#contract-push")
    await applicant.wait_for_selector("#contract-reader:not([hidden])", timeout=30_000)
    await screens.take(applicant, "applicant-contract-page")
    pages = 0
    while await applicant.locator("#contract-confirm[hidden]").count():
        await applicant.wait_for_function(
            "() => document.getElementById('contract-page').naturalWidth > 0"
        )
        await applicant.click("#contract-read")
        pages += 1
        await applicant.wait_for_timeout(300)
        assert pages < 20
    await applicant.click("#contract-code-send")
    await applicant.wait_for_selector("#contract-status.pass")
    await manager.wait_for_function(
        "() => /^[0-9]{6}$/.test(document.getElementById('contract-demo-code').textContent)",
        timeout=10_000,
    )
    code = (await manager.locator("#contract-demo-code").inner_text()).strip()
    await applicant.fill("#contract-code", code)
    await pass_liveness(applicant, "contract-liveness")
    # The call kept going through the check, on the camera it handed back.
    await wait_for_moving_video(manager, "#call video.remote")
    await draw_with_touch(applicant, "#contract-mark")
    await screens.take(applicant, "applicant-signing", top=False)
    await applicant.click("#contract-sign")
    await applicant.wait_for_selector("#contract-done:not([hidden])", timeout=90_000)
    await screens.take(applicant, "applicant-signed")
    async with applicant.expect_download() as download_info:
        await applicant.click("#contract-download")
    signed = OUT / "contract.pdf"
    await (await download_info.value).save_as(str(signed))

    # 6. The call ends; the manager submits the case; compliance reviews it.
    await manager.click("#call-end")
    await applicant.wait_for_selector("#call .call-view[data-ended]")
    await manager.wait_for_selector("#action-form button[value='submit_for_review']")
    await manager.click("#action-form button[value='submit_for_review']")
    await manager.wait_for_selector("h1 .state-under_review", timeout=15_000)

    await sign_in(compliance, service, "c1")
    await compliance.wait_for_url("**/compliance")
    await compliance.click(f"a[href='/staff/applications/{application_id}']")
    await compliance.wait_for_selector("#session[data-ready='true']")
    await compliance.click("#session-toggle")
    await compliance.wait_for_function(
        "() => ['applicant', 'manager'].every((s) => "
        "document.getElementById(`play-${s}`).currentTime > 1)",
        timeout=30_000,
    )
    await screens.take(compliance, "compliance-session", top=False)
    await compliance.click("#session-toggle")
    await compliance.click("#validation-run")
    report = compliance.locator("#validation-report [data-verdict]")
    await report.wait_for(timeout=60_000)
    assert await report.get_attribute("data-verdict") == "valid"
    # The decision by keyboard alone: four ticks, past the comment, approve.
    await compliance.focus("#review-form input[name='identity_confirmed']")
    for _ in range(3):
        await compliance.keyboard.press("Space")
        await compliance.keyboard.press("Tab")
    await compliance.keyboard.press("Space")
    await compliance.keyboard.press("Tab")
    await compliance.keyboard.press("Tab")
    focused = await compliance.evaluate("document.activeElement.value")
    assert focused == "approve", focused
    await compliance.keyboard.press("Enter")
    await compliance.wait_for_selector("#review-form", state="detached")
    await screens.take(compliance, "compliance-approved")
    async with compliance.expect_download() as download_info:
        await compliance.click("#evidence-export")
    package = OUT / "evidence.zip"
    await (await download_info.value).save_as(str(package))

    case = await apps.get_application(service.engine, SYSTEM_PRINCIPAL, application_id)
    assert case.state.value == "approved"
    # Every identity decision was taken on video the server received itself:
    # the verification session before the call, the call's own frames at signing.
    staff = await service.staff("m1")
    trail = (await staff.request("GET", f"/api/applications/{application_id}/audit")).body
    sources = [e["details"]["source"] for e in trail["items"] if e["action"] == "kyc.liveness"]
    assert sources[0] == "verification_session" and sources[-1] == "call", sources
    assert "upload" not in sources, sources
    matches = [e["details"]["source"] for e in trail["items"] if e["action"] == "kyc.face_match"]
    assert matches and set(matches) <= {"verification_session", "call"}, matches
    assert screens.problems == [], "\n".join(screens.problems)
    root = OUT / "trust-root.pem"
    root.write_bytes((service.settings.pki_dir / "root.pem").read_bytes())
    # As on a clean machine: the package and the root, nothing of the service.
    env: dict[str, Any] = {**os.environ, "SIGNROOM_DATA_DIR": str(tmp_path / "nothing")}
    verified = await cli("verify-evidence", str(package), "--trust", str(root), env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    (OUT / "verify-evidence.txt").write_text(verified.stdout)
    # pdfsig checks both signatures (it cannot judge the document timestamp, which
    # verify-evidence has checked with pyHanko above).
    checked = await asyncio.to_thread(pdfsig, signed)
    assert checked.count("Signature Validation: Signature is Valid.") == 2, checked
    assert "Invalid" not in checked, checked
