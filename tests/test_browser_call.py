"""The video interview in real browsers: an applicant on a phone-sized Chromium
with a fake camera playing a real face, a manager on a desktop Chromium, both
through the server. Pictures flow both ways, the recording holds both tracks, the
frame tap sees a face, and a reload mid-call rejoins the same call; an applicant
browser that offers H.264 only is seen, tapped and recorded too; without biometric
consent the manager confirms the identity on the call."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page
from sqlalchemy import select

from audit import log as audit
from kyc.face_dlib import model
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from loans.states import Action
from media.recording import KEYFRAME_SECONDS
from store.schema import audit_log
from tests.browser_support import (
    PHONE,
    Chromium,
    click_when_ready,
    consent_and_check_device,
    wait_for_moving_video,
    y4m_from_photo,
    y4m_from_video,
)
from tests.document_flow import matching_documents
from tests.media_support import ffprobe, seek_lands
from tests.shared_data import SHARED
from tests.web_support import PASSWORD, Service, start_service, stop_service
from web.keys import CALLS

FACE_CLIP = SHARED / "video/LivePortrait/assets/examples/driving/d13.mp4"
FACE_PHOTO = Path(__file__).parent / "data" / "faces" / "kit_harington_john1.jpg"

pytestmark = pytest.mark.browser


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, sqlite_url, call_grace_seconds="20")
    await running.add_user("m1", Role.MANAGER)
    yield running
    await stop_service(running)


@pytest.fixture
def camera(tmp_path: Path) -> Path:
    """A real face for the applicant's fake camera: a shared clip when present,
    else a tests/data photo panned and zoomed."""
    if FACE_CLIP.is_file() and shutil.which("ffmpeg"):
        return y4m_from_video(FACE_CLIP, tmp_path / "applicant.y4m")
    return y4m_from_photo(FACE_PHOTO, tmp_path / "applicant.y4m")


async def actions(service: Service, application_id: str) -> list[str]:
    async with service.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.action)
            .where(audit_log.c.application_id == application_id)
            .order_by(audit_log.c.seq)
        )
        return [row.action for row in rows]


async def applicant_page(service: Service, page: Page, application_id: str) -> None:
    """Open the invitation, consent, and (KYC is another test's business) have the
    identity verified so the call step appears."""
    _invite, link = await service.invite_link("m1", application_id)
    await page.goto(link)
    await consent_and_check_device(page)
    await apps.act(service.engine, SYSTEM_PRINCIPAL, application_id, Action.VERIFY_IDENTITY)
    await page.reload()
    await page.wait_for_selector("#call-join")


async def manager_page(service: Service, page: Page, application_id: str) -> None:
    await page.goto(str(service.base.with_path("/login")))
    await page.fill("#username", "m1")
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url("**/manager")
    await page.goto(str(service.base.with_path(f"/staff/applications/{application_id}")))


async def ended_without_a_new_call(service: Service, manager: Page, application_id: str) -> None:
    """The call ended before signing: the case is back at identity_verified before
    the pages hear of it, so the manager's console, which reloads on the end,
    offers to accept again instead of starting another call by itself."""
    state = await apps.get_application(service.engine, SYSTEM_PRINCIPAL, application_id)
    assert state.state.value == "identity_verified"
    await manager.wait_for_selector("#call-accept:not([hidden]):not([disabled])")
    await asyncio.sleep(1)
    assert service.server.app[CALLS].get(application_id) is None
    trail = [a for a in await actions(service, application_id) if a.startswith("call.")]
    assert trail[-1] == "call.ended", trail


async def test_applicant_and_manager_see_each_other_through_the_server(
    chromium: Chromium, service: Service, camera: Path, tmp_path: Path
) -> None:
    application_id = await service.new_application("m1")
    phone = await chromium.launch(camera)
    desk = await chromium.launch()
    applicant = await (await phone.new_context(**PHONE)).new_page()  # type: ignore[arg-type]
    manager = await (await desk.new_context()).new_page()
    await applicant_page(service, applicant, application_id)
    await manager_page(service, manager, application_id)

    # The applicant joins the queue; the manager's console lists them.
    await applicant.click("#call-join")
    await applicant.wait_for_selector("#call-waiting:has-text('…')")
    await manager.goto(str(service.base.with_path("/manager")))
    await manager.wait_for_selector(f"#call-queue a[href$='{application_id}']")
    await manager.click(f"#call-queue a[href$='{application_id}']")
    await manager.click("#call-accept")

    on_desk = await wait_for_moving_video(manager, "#call video.remote")
    on_phone = await wait_for_moving_video(applicant, "#call video.remote")
    assert on_desk["width"] == 640 and on_desk["height"] == 480
    assert on_phone["width"] > 0
    await manager.wait_for_selector("#call .quality[data-quality='good']", timeout=15_000)
    rate = await manager.evaluate(
        """async () => {
          const video = document.querySelector("#call video.remote");
          const before = video.getVideoPlaybackQuality().totalVideoFrames;
          await new Promise((resolve) => setTimeout(resolve, 4000));
          return (video.getVideoPlaybackQuality().totalVideoFrames - before) / 4;
        }"""
    )
    # The fake camera runs at 15 fps; forwarding must not thin it out.
    assert rate >= 12, rate

    # The identity checks' tap sees the applicant's face.
    call = service.server.app[CALLS].get(application_id)
    assert call is not None and call.tap is not None
    frame = call.tap.latest()
    assert frame is not None and frame.image.shape[:2] == (480, 640)
    faces = model("detector")(frame.image[:, :, ::-1].copy(), 1)
    assert len(faces) == 1
    # The applicant's browser sends two temporal layers: the tap decodes the
    # base layer (half the frames) and still offers its 5 frames a second,
    # while the manager above got every frame.
    tap = call.tap
    decoded, not_needed, offered = tap.decoded, tap.not_needed, tap.offered
    await asyncio.sleep(3)
    decoded, not_needed = tap.decoded - decoded, tap.not_needed - not_needed
    offered = tap.offered - offered
    assert not_needed >= 0.4 * (decoded + not_needed), (decoded, not_needed)
    assert offered >= 12, offered

    # Monitoring sees the call and its traffic (a quality sample is in by now).
    metrics = await service.browser().request("GET", "/metrics")
    series = dict(
        line.rsplit(" ", 1) for line in metrics.text.splitlines() if line.startswith("signroom_")
    )
    assert series["signroom_active_calls"] == "1.0"
    assert float(series["signroom_media_packets_total"]) > 100
    assert float(series["signroom_media_bytes_total"]) > 100_000
    assert float(series["signroom_media_bitrate_kbps"]) > 0

    # A reload drops the applicant; they come back into the same call.
    await applicant.reload()
    await applicant.wait_for_selector("#call .call-view:not([hidden])")
    await wait_for_moving_video(manager, "#call video.remote")
    await wait_for_moving_video(applicant, "#call video.remote")
    assert service.server.app[CALLS].get(application_id) is call

    snapshot = await manager.evaluate(
        """async (id) => {
          const token = document.querySelector('meta[name="csrf-token"]').content;
          const r = await fetch(`/api/calls/${id}/snapshot`,
            {method: "POST", headers: {"X-CSRF-Token": token}});
          return [r.status, await r.json()];
        }""",
        application_id,
    )
    assert snapshot[0] == 201 and snapshot[1]["width"] == 640
    # Chromium sends a key frame only when asked: long enough for the
    # recorder to ask, so the segment after the reload can be sought.
    await asyncio.sleep(2 * KEYFRAME_SECONDS + 1)

    await manager.click("#call-end")
    await applicant.wait_for_selector("#call .call-view[data-ended]")
    await ended_without_a_new_call(service, manager, application_id)

    trail = await actions(service, application_id)
    for expected in (
        "call.queued",
        "call.joined",
        "call.connected",
        "call.dropped",
        "call.rejoined",
        "call.snapshot",
        "call.segment_recorded",
        "call.quality_changed",
        "call.ended",
    ):
        assert expected in trail, (expected, " ".join(trail[8:]))
    # The review's timeline of this call: three segments, the reload as a closed gap,
    # a quality history for both sides, and the moments to jump to.
    manager_api = await service.staff("m1")
    timeline = (
        await manager_api.request("GET", f"/api/applications/{application_id}/timeline")
    ).body
    assert sorted((s["side"], s["segment"]) for s in timeline["segments"]) == [
        ("applicant", 1),
        ("applicant", 2),
        ("manager", 1),
    ]
    [gap] = timeline["gaps"]
    assert gap["side"] == "applicant" and gap["to"] is not None and gap["to"] >= gap["from"]
    assert {q["side"] for q in timeline["quality"]} == {"applicant", "manager"}
    kinds = [m["kind"] for m in timeline["markers"]]
    for expected in ("dropped", "rejoined", "snapshot", "call_ended"):
        assert expected in kinds, kinds
    # Each segment, the one after the reconnect included, is in the blob store,
    # knows its length and seeks: to a key frame at most KEYFRAME_SECONDS (and a
    # frame) before the middle.
    async with service.engine.connect() as conn:
        entries = await audit.entries_for_application(conn, application_id)
    segments = [e.details for e in entries if e.action == "call.segment_recorded"]
    # Applicant: before and after the reload; manager: one segment.
    assert sorted(str(d["side"]) for d in segments) == ["applicant", "applicant", "manager"]
    for details in segments:
        path = await service.recording_blob(application_id, str(details["file"]))
        kinds, duration = await asyncio.to_thread(ffprobe, path)
        assert kinds == ["audio", "video"], details["file"]
        _kinds, duration = await asyncio.to_thread(ffprobe, path)
        assert abs(duration - float(str(details["wall_seconds"]))) < 1, (details, duration)
        middle = duration / 2
        landed, shown = await asyncio.to_thread(seek_lands, path, middle)
        assert middle - KEYFRAME_SECONDS - 1 <= landed <= middle, (details, landed)
        assert abs(shown - middle) < 1, (details, shown)


# Makes the page's connections offer H.264 only, as a browser without VP8 would.
H264_ONLY = """
const createOffer = RTCPeerConnection.prototype.createOffer;
RTCPeerConnection.prototype.createOffer = function (...args) {
  const h264 = RTCRtpSender.getCapabilities("video").codecs.filter(
    (codec) => /^video\\/(h264|rtx)$/i.test(codec.mimeType));
  for (const transceiver of this.getTransceivers()) {
    if (transceiver.receiver.track.kind === "video") transceiver.setCodecPreferences(h264);
  }
  return createOffer.apply(this, args);
};
"""


async def test_an_applicant_browser_without_vp8_is_seen_and_recorded_in_h264(
    chromium: Chromium, service: Service, camera: Path
) -> None:
    application_id = await service.new_application("m1")
    phone = await chromium.launch(camera)
    desk = await chromium.launch()
    context = await phone.new_context(**PHONE)  # type: ignore[arg-type]
    await context.add_init_script(H264_ONLY)
    applicant = await context.new_page()
    manager = await (await desk.new_context()).new_page()
    await applicant_page(service, applicant, application_id)
    await manager_page(service, manager, application_id)
    await applicant.click("#call-join")
    await applicant.wait_for_selector("#call-waiting:has-text('…')")
    await manager.goto(str(service.base.with_path("/manager")))
    await manager.click(f"#call-queue a[href$='{application_id}']")
    await manager.click("#call-accept")

    # Whichever page connected first, both end up sending H.264 and seeing
    # each other.
    on_desk = await wait_for_moving_video(manager, "#call video.remote")
    await wait_for_moving_video(applicant, "#call video.remote")
    assert on_desk["width"] == 640 and on_desk["height"] == 480
    call = service.server.app[CALLS].get(application_id)
    assert call is not None and call.tap is not None
    frame = call.tap.latest()
    assert frame is not None and frame.image.shape[:2] == (480, 640)
    assert len(model("detector")(frame.image[:, :, ::-1].copy(), 1)) == 1

    await manager.click("#call-end")
    await applicant.wait_for_selector("#call .call-view[data-ended]")
    await ended_without_a_new_call(service, manager, application_id)

    async with service.engine.connect() as conn:
        entries = await audit.entries_for_application(conn, application_id)
    applicant_files = [
        str(e.details["file"])
        for e in entries
        if e.action == "call.segment_recorded" and e.details["side"] == "applicant"
    ]
    assert applicant_files and all(name.endswith(".mkv") for name in applicant_files)
    for name in applicant_files:
        kinds, _duration = await asyncio.to_thread(
            ffprobe, await service.recording_blob(application_id, name)
        )
        assert kinds == ["audio", "video"], name
    # The manager's last segment is H.264 too (an earlier VP8 one if the manager's
    # page connected first and was asked to switch).
    manager_files = [
        str(e.details["file"])
        for e in entries
        if e.action == "call.segment_recorded" and e.details["side"] == "manager"
    ]
    assert sorted(manager_files)[-1].endswith(".mkv")
    trail = await actions(service, application_id)
    assert "call.codec_mismatch" not in trail or "call.reconnect_requested" in trail


async def test_without_biometric_consent_the_manager_confirms_the_identity_on_the_call(
    chromium: Chromium, service: Service, camera: Path
) -> None:
    """The non-face path in the pages: the applicant declines face recognition,
    sends the documents and joins the call; the manager, told why, compares the
    person with the ID card and confirms on the call; the interview goes on."""
    application_id = await service.new_application("m1")
    phone = await chromium.launch(camera)
    desk = await chromium.launch()
    applicant = await (await phone.new_context(**PHONE)).new_page()  # type: ignore[arg-type]
    manager = await (await desk.new_context()).new_page()
    _invite, link = await service.invite_link("m1", application_id)
    await applicant.goto(link)
    await applicant.check('input[name="recording"]')
    await applicant.check('input[name="data_use"]')
    await applicant.click("#consent-form button[type=submit]")
    await click_when_ready(applicant, "#biometrics-decline")
    await click_when_ready(applicant, "#device-check-start")
    await applicant.wait_for_selector("#documents")
    # No face check on this path: the liveness step never shows.
    assert await applicant.locator("#liveness").is_hidden()
    front, back, licence, _ = matching_documents()
    for kind, data in (("id_front", front), ("id_back", back), ("licence", licence)):
        card = applicant.locator(f'#documents .doc-card[data-kind="{kind}"]')
        await card.locator("input").set_input_files(
            {"name": f"{kind}.jpg", "mimeType": "image/jpeg", "buffer": data}
        )
        await card.locator(".result ul.checks").wait_for(timeout=60_000)
    await applicant.click("#documents-next")
    await applicant.click("#call-join")
    await applicant.wait_for_selector("#call-waiting:has-text('…')")

    await manager_page(service, manager, application_id)
    await manager.wait_for_selector("#call-manager-check")
    await manager.click("#call-accept")
    await wait_for_moving_video(manager, "#call video.remote")
    await manager.fill("#call-confirm-reason", "ID card held to the camera; face and card agree")
    await manager.click("#call-confirm-identity button[type=submit]")
    await manager.wait_for_selector("#call-confirm-identity", state="detached")
    case = await apps.get_application(service.engine, SYSTEM_PRINCIPAL, application_id)
    assert case.state.value == "in_interview"
    transitions = [a for a in await actions(service, application_id) if a.startswith("kyc.")]
    assert "kyc.face_match" not in transitions and "kyc.liveness" not in transitions
    await wait_for_moving_video(manager, "#call video.remote")
