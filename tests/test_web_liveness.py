"""Liveness through the API: random challenges issued, a recorded clip checked in
worker processes, the face in the clip matched to the ID portrait, and the case
moved to identity_verified only when every piece of evidence holds."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kyc.faces import head_crop
from loans.roles import Role
from tests import specimens
from tests.document_flow import TODAY, jpeg, record_attempt
from tests.shared_data import SHARED
from tests.web_support import (
    APPLICATION,
    Browser,
    Response,
    Service,
    start_service,
    stop_service,
)

D12 = SHARED / "video/LivePortrait/assets/examples/driving/d12.mp4"
STILL = Path(__file__).parent / "data" / "faces" / "biden_biden2.jpg"
PORTRAIT = Path(__file__).parent / "data" / "faces" / "biden_biden.jpg"

# d12 (measured once): blink at 2.0 s, turn to the right 3.0-3.8 s, turn to the
# left 6.6-7.0 s. With a 1.5 s lead-in and 2 s per prompt the windows are
# [1.5, 3.5), [3.5, 5.5), [5.5, 7.5).
D12_CHALLENGES = "blink,turn_right,turn_left"


async def liveness_service(tmp_path: Path, sqlite_url: str, challenges: str) -> Service:
    running = await start_service(
        tmp_path,
        sqlite_url,
        kyc_workers="1",
        liveness_fixed_challenges=challenges,
        liveness_window_seconds="2",
        liveness_lead_in_ms="1500",
    )
    await running.add_user("m1", Role.MANAGER)
    return running


@pytest.fixture
async def still_service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    running = await liveness_service(tmp_path, sqlite_url, "blink,nod,open_mouth")
    yield running
    await stop_service(running)


def load(path: Path) -> np.ndarray[Any, Any]:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


async def post(browser: Browser, path: str, data: bytes, content_type: str) -> Response:
    return await browser.request("POST", path, data=data, headers={"Content-Type": content_type})


async def applicant_with_documents(
    service: Service, portrait: np.ndarray[Any, Any]
) -> tuple[Browser, str]:
    """An applicant who consented and sent ID card and licence that all check out."""
    app_id = await service.new_application("m1")
    applicant = await service.applicant("m1", app_id)
    await applicant.request(
        "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
    )
    await applicant.request("POST", "/api/applicant/consent/biometrics", json={"granted": True})
    rng = random.Random(61)
    person = dataclasses.replace(
        specimens.random_identity(rng, today=TODAY), name=str(APPLICATION["legal_rep_name"])
    )
    company = dataclasses.replace(
        specimens.random_company(rng, person.name, today=TODAY),
        company_name=str(APPLICATION["company_name"]),
        credit_code=str(APPLICATION["credit_code"]),
    )
    for kind, image in (
        ("id_front", specimens.draw_id_front(person, portrait)),
        ("id_back", specimens.draw_id_back(person)),
        ("licence", specimens.draw_licence(company)),
    ):
        response = await post(
            applicant, f"/api/applicant/documents/{kind}", jpeg(image), "image/jpeg"
        )
        assert response.status == 201, response.text
        assert response.body["passed"], response.body["checks"]
    return applicant, app_id


def first_frame(path: Path) -> np.ndarray[Any, Any]:
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read()
    capture.release()
    assert ok, path
    return frame


def still_video(path: Path, seconds: float = 8.0) -> bytes:
    """A photo held to the camera, as a recording: the same frame with sensor noise."""
    photo = load(STILL)
    height, width = photo.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15, (width, height))
    rng = np.random.default_rng(2)
    for _ in range(int(seconds * 15)):
        noisy = np.clip(photo.astype(np.float32) + rng.normal(0, 3, photo.shape), 0, 255)
        writer.write(noisy.astype(np.uint8))
    writer.release()
    return path.read_bytes()


async def state_of(service: Service, app_id: str) -> str:
    manager = await service.staff("m1")
    return str((await manager.request("GET", f"/api/applications/{app_id}")).body["state"])


async def test_a_still_photo_fails_and_three_failures_hand_over_to_the_manager(
    still_service: Service, tmp_path: Path
) -> None:
    applicant, app_id = await applicant_with_documents(still_service, head_crop(load(PORTRAIT)))
    video = still_video(tmp_path / "still.mp4")
    for left in (2, 1, 0):
        attempt = await applicant.request("POST", "/api/applicant/liveness")
        assert attempt.status == 201, attempt.text
        assert attempt.body["challenges"] == ["blink", "nod", "open_mouth"]
        path = f"/api/applicant/liveness/{attempt.body['id']}/video"
        result = await post(applicant, path, video, "video/mp4")
        assert result.status == 200, result.text
        assert result.body["status"] == "failed"
        assert result.body["result"]["detected"] == {
            "blink": False,
            "nod": False,
            "open_mouth": False,
        }
        # The face itself is the same person as the portrait; only liveness fails.
        assert result.body["result"]["face_decision"] == "match"
        assert result.body["result"]["passive"]["decision"] == "spoof"
        assert result.body["attempts_left"] == left
        reused = await post(applicant, path, video, "video/mp4")
        assert reused.status == 409
    exhausted = await applicant.request("POST", "/api/applicant/liveness")
    assert exhausted.status == 409
    assert exhausted.body["code"] == "liveness_attempts_exhausted"
    assert await state_of(still_service, app_id) == "invited"
    assert await still_service.audit_count("kyc.liveness") == 3
    # No dead end: the applicant joins the call, where the manager confirms.
    queued = await applicant.request("POST", "/api/applicant/call/queue")
    assert queued.status == 200 and queued.body["state"] == "waiting", queued.text
    manager = await still_service.staff("m1")
    waiting = (await manager.request("GET", "/api/calls/queue")).body["waiting"]
    assert [(w["application_id"], w["kyc"]) for w in waiting] == [(app_id, "manager_check")]


def faceless_video(path: Path) -> bytes:
    """A real recording of an empty wall: it decodes, and holds no face."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15, (320, 240))
    for n in range(30):
        writer.write(np.full((240, 320, 3), 100 + n, dtype=np.uint8))
    writer.release()
    return path.read_bytes()


async def test_bad_recordings_are_refused_cleanly(still_service: Service, tmp_path: Path) -> None:
    applicant, _app_id = await applicant_with_documents(still_service, head_crop(load(PORTRAIT)))
    attempt = await applicant.request("POST", "/api/applicant/liveness")
    path = f"/api/applicant/liveness/{attempt.body['id']}/video"
    for data, content_type, status in (
        (faceless_video(tmp_path / "wall.mp4"), "video/mp4", 422),
        (b"not a video at all", "video/webm", 422),
        (b"\x1a\x45\xdf\xa3" + b"\0" * 4000, "video/webm", 422),
        (jpeg(load(STILL)), "image/jpeg", 415),
        (b"", "video/mp4", 400),
    ):
        response = await post(applicant, path, data, content_type)
        assert response.status == status, response.text
        assert response.body["code"]
        # No temporary file's random name in what the applicant reads.
        assert not re.search(r"tmp\w{6,}", response.text), response.text
    unknown = await post(applicant, "/api/applicant/liveness/nope/video", b"x", "video/mp4")
    assert unknown.status == 404


@pytest.mark.skipif(not D12.is_file(), reason=f"shared test video not found at {SHARED}")
async def test_the_right_movements_in_a_real_clip_verify_the_identity(
    tmp_path: Path, sqlite_url: str
) -> None:
    service = await liveness_service(tmp_path, sqlite_url, D12_CHALLENGES)
    try:
        applicant, app_id = await applicant_with_documents(service, head_crop(first_frame(D12)))
        attempt = await applicant.request("POST", "/api/applicant/liveness")
        assert attempt.status == 201
        result = await post(
            applicant,
            f"/api/applicant/liveness/{attempt.body['id']}/video",
            D12.read_bytes(),
            "video/mp4",
        )
        assert result.status == 200, result.text
        assert result.body["result"]["detected"] == {
            "blink": True,
            "turn_right": True,
            "turn_left": True,
        }
        assert result.body["result"]["face_decision"] == "match"
        assert result.body["result"]["passive"]["decision"] == "live"
        evidence = result.body["result"]["evidence_frames"]
        assert set(evidence) == {"blink", "turn_right", "turn_left", "face"}
        for digest in evidence.values():
            still = cv2.imdecode(np.frombuffer(await service.biometric_blob(digest), np.uint8), 1)
            assert still is not None and still.shape[:2] == (512, 512)
        assert result.body["status"] == "passed"
        assert result.body["application_state"] == "identity_verified"
        assert await state_of(service, app_id) == "identity_verified"
    finally:
        await stop_service(service)


@pytest.mark.skipif(not D12.is_file(), reason=f"shared test video not found at {SHARED}")
async def test_movements_out_of_order_do_not_pass(tmp_path: Path, sqlite_url: str) -> None:
    service = await liveness_service(tmp_path, sqlite_url, "turn_left,blink,turn_right")
    try:
        applicant, app_id = await applicant_with_documents(service, head_crop(first_frame(D12)))
        attempt = await applicant.request("POST", "/api/applicant/liveness")
        result = await post(
            applicant,
            f"/api/applicant/liveness/{attempt.body['id']}/video",
            D12.read_bytes(),
            "video/mp4",
        )
        assert result.body["status"] == "failed"
        assert result.body["result"]["detected"]["turn_left"] is False
        assert await state_of(service, app_id) == "invited"
    finally:
        await stop_service(service)


@pytest.mark.skipif(not D12.is_file(), reason=f"shared test video not found at {SHARED}")
async def test_evidence_is_frozen_once_identity_is_verified(
    tmp_path: Path, sqlite_url: str
) -> None:
    service = await liveness_service(tmp_path, sqlite_url, D12_CHALLENGES)
    try:
        applicant, _app_id = await applicant_with_documents(service, head_crop(first_frame(D12)))
        attempt = await applicant.request("POST", "/api/applicant/liveness")
        verified = await post(
            applicant,
            f"/api/applicant/liveness/{attempt.body['id']}/video",
            D12.read_bytes(),
            "video/mp4",
        )
        assert verified.body["application_state"] == "identity_verified"
        again = await post(
            applicant, "/api/applicant/documents/id_front", jpeg(load(STILL)), "image/jpeg"
        )
        assert again.status == 409
        assert (await applicant.request("POST", "/api/applicant/liveness")).status == 409
    finally:
        await stop_service(service)


async def test_a_manager_confirms_identity_only_when_the_face_match_asks_for_review(
    still_service: Service,
) -> None:
    _applicant, app_id = await applicant_with_documents(still_service, head_crop(load(PORTRAIT)))
    manager = await still_service.staff("m1")
    await still_service.add_user("c1", Role.COMPLIANCE)
    compliance = await still_service.staff("c1")
    confirm = {"action": "confirm_identity", "comment": "checked face against ID on the call"}
    path = f"/api/applications/{app_id}/actions"

    nothing_yet = await manager.request("POST", path, json=confirm)
    assert nothing_yet.status == 409, nothing_yet.text
    await record_attempt(still_service, app_id, "no_match")
    after_no_match = await manager.request("POST", path, json=confirm)
    assert after_no_match.status == 409, after_no_match.text

    await record_attempt(still_service, app_id, "review")
    assert (await compliance.request("POST", path, json=confirm)).status == 403
    no_reason = await manager.request("POST", path, json={"action": "confirm_identity"})
    assert no_reason.status == 422, no_reason.text
    assert await state_of(still_service, app_id) == "invited"
    before = await still_service.audit_count("application.transition")

    confirmed = await manager.request("POST", path, json=confirm)
    assert confirmed.status == 200, confirmed.text
    assert confirmed.body["state"] == "identity_verified"
    assert await still_service.audit_count("application.transition") == before + 1
    trail = (await manager.request("GET", f"/api/applications/{app_id}/audit")).body
    last = [e for e in trail["items"] if e["action"] == "application.transition"][-1]
    assert last["details"]["action"] == "confirm_identity"
    assert last["details"]["comment"] == confirm["comment"]
    again = await manager.request("POST", path, json=confirm)
    assert again.status == 409
