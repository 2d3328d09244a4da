"""Compliance in a real browser: the reviewer opens a signed, recorded case, plays both
recordings on one clock and jumps to a marked moment, reads the contract's validation
report, approves with the checklist and exports the evidence package, which
`signroom verify-evidence` accepts on its own with only the bank's root; a data
subject's request is recorded and answered from the case page."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.async_api import Page

from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL, Principal
from loans.roles import Role
from loans.states import Action
from tests.browser_support import Chromium
from tests.signing_support import (
    applicant_in_interview,
    free_port,
    recorded_segments,
    sign_in_interview,
)
from tests.web_support import PASSWORD, Service, start_service, stop_service

pytestmark = pytest.mark.browser


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, sqlite_url, port=free_port())
    await running.add_user("m1", Role.MANAGER)
    await running.add_user("c1", Role.COMPLIANCE)
    yield running
    await stop_service(running)


async def video_times(page: Page) -> list[float]:
    return list(
        await page.evaluate(
            "() => ['applicant', 'manager'].map((s) => "
            "document.getElementById(`play-${s}`).currentTime)"
        )
    )


async def test_a_reviewer_replays_approves_and_exports_a_verifiable_package(
    chromium: Chromium, service: Service, tmp_path: Path
) -> None:
    applicant, app_id = await applicant_in_interview(service)
    await recorded_segments(service, app_id, seconds=8)
    await sign_in_interview(service, applicant, app_id)
    owner = Principal(Role.MANAGER, user_id=service.user_ids["m1"])
    await apps.act(service.engine, owner, app_id, Action.SUBMIT_FOR_REVIEW)

    compliance = await service.staff("c1")
    timeline = (await compliance.request("GET", f"/api/applications/{app_id}/timeline")).body
    desk = await chromium.launch()
    context = await desk.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = await context.new_page()
    await page.goto(str(service.base.with_path("/login")))
    await page.fill("#username", "c1")
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url("**/compliance")
    await page.click(f"a[href='/staff/applications/{app_id}']")
    await page.wait_for_selector("#session[data-ready='true']")

    # Both recordings advance together on the shared clock.
    await page.click("#session-toggle")
    await page.wait_for_function(
        "() => ['applicant', 'manager'].every((s) => "
        "document.getElementById(`play-${s}`).currentTime > 1.5)",
        timeout=20_000,
    )
    applicant_time, manager_time = await video_times(page)
    assert abs(applicant_time - manager_time) < 0.6, (applicant_time, manager_time)
    moving = await page.evaluate(
        """() => new Promise((resolve) => {
          const video = document.getElementById("play-applicant");
          const canvas = document.createElement("canvas");
          canvas.width = 64; canvas.height = 48;
          const grab = () => {
            canvas.getContext("2d").drawImage(video, 0, 0, 64, 48);
            return canvas.getContext("2d").getImageData(0, 0, 64, 48).data;
          };
          const first = grab();
          setTimeout(() => {
            const second = grab();
            let changed = 0, lit = 0;
            for (let i = 0; i < first.length; i += 4) {
              if (Math.abs(first[i] - second[i]) > 8) changed++;
              if (second[i] > 30) lit++;
            }
            resolve({changed, lit});
          }, 700);
        })"""
    )
    assert moving["changed"] > 20 and moving["lit"] > 500, moving
    await page.click("#session-toggle")  # pause

    # A marker jumps playback: the first confirmed page is after the recordings
    # (they were closed before the push), so both players show the gap notice.
    await page.click("#session-marker-list li[data-kind='page_confirmed'] button")
    await page.wait_for_selector("#gap-applicant:not([hidden])")
    # The slider to the middle of the recordings: both players seek there
    # and show a picture (the recorder's files carry cues and key frames).
    start = datetime.fromisoformat(str(await page.get_attribute("#session", "data-start")))
    span = float(str(await page.get_attribute("#session", "data-span")))
    recorded_from = datetime.fromisoformat(timeline["segments"][0]["started_at"])
    middle = 4.0
    position = (recorded_from - start).total_seconds() * 1000 + middle * 1000
    await page.fill("#session-seek", str(round(position / span * 1000)))
    await page.wait_for_function(
        """(t) => ['applicant', 'manager'].every((s) => {
          const video = document.getElementById(`play-${s}`);
          return video.readyState >= 2 && !video.seeking && Math.abs(video.currentTime - t) < 1;
        })""",
        arg=middle,
        timeout=20_000,
    )
    lit = await page.evaluate(
        """() => ['applicant', 'manager'].map((s) => {
          const canvas = document.createElement("canvas");
          canvas.width = 64; canvas.height = 48;
          const context = canvas.getContext("2d");
          context.drawImage(document.getElementById(`play-${s}`), 0, 0, 64, 48);
          const data = context.getImageData(0, 0, 64, 48).data;
          let lit = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i] > 30) lit++;
          return lit;
        })"""
    )
    assert min(lit) > 500, lit
    # The slider back to the start puts both videos at the beginning again.
    await page.fill("#session-seek", "0")
    await page.wait_for_function(
        "() => document.getElementById('play-applicant').currentTime < 0.5"
    )

    await page.click("#validation-run")
    verdict = page.locator("#validation-report [data-verdict]")
    await verdict.wait_for(timeout=60_000)
    assert await verdict.get_attribute("data-verdict") == "valid"

    for item in (
        "identity_confirmed",
        "acted_voluntarily",
        "contract_explained",
        "recording_complete",
    ):
        await page.check(f"#review-form input[name='{item}']")
    await page.click("#review-form button[value='approve']")
    await page.wait_for_selector("#review-form", state="detached")

    async with page.expect_download() as download_info:
        await page.click("#evidence-export")
    download = await download_info.value
    assert download.suggested_filename == f"evidence-{app_id}.zip"
    package = tmp_path / "evidence.zip"
    await download.save_as(str(package))
    await page.wait_for_selector("#export-status.pass")

    # The applicant asks for a copy of their data: recorded with its due date,
    # then answered from the same card.
    await page.select_option("#subject-request-kind", "access")
    await page.fill("#subject-request-note", "phoned on 2026-12-07")
    await page.click("#subject-request-form button[type=submit]")
    task = page.locator("#subject-request-list li").first
    await task.wait_for()
    assert "phoned on 2026-12-07" in await task.inner_text()
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("sent by post")))
    await task.locator("button").click()
    await page.wait_for_selector("#subject-request-list li.pass")
    assert await service.audit_count("subject_request.completed") == 1

    case = await apps.get_application(service.engine, SYSTEM_PRINCIPAL, app_id)
    assert case.state.value == "approved"
    assert await service.audit_count("recording.viewed") >= 2
    assert await service.audit_count("review.checklist") == 1
    # A clean machine: nothing but the package and the bank's root.
    root = tmp_path / "bank-root.pem"
    root.write_bytes((service.settings.pki_dir / "root.pem").read_bytes())
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "verify-evidence", str(package), "--trust", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "SIGNROOM_DATA_DIR": str(tmp_path / "nothing-here")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 recordings match the signed interview manifest" in result.stdout
