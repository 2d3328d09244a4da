"""Passive liveness on real face videos, on still pictures turned into videos, on
pictures moved in front of the camera, and on the attack samples in
../shared/data/antispoof (three attacks: a print, a phone screen, a tablet)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kyc.errors import KycError, NotEnoughFrames
from kyc.liveness import FrameMetrics, frame_metrics
from kyc.passive import PassiveDecision, assess_clip, assess_file
from tests.liveness_support import DRIVING, STILL, metrics_of
from tests.shared_data import SHARED

ANTISPOOF = SHARED / "antispoof"
ATTACKS = [
    ANTISPOOF / "Silent-Face-Anti-Spoofing/images/sample/image_F1.jpg",  # print
    ANTISPOOF / "Silent-Face-Anti-Spoofing/images/sample/image_F2.jpg",  # phone screen
    ANTISPOOF / "HyperFAS/data/fake_screen.png",  # tablet screen
]
BONA_FIDE_STILL = ANTISPOOF / "Silent-Face-Anti-Spoofing/images/sample/image_T1.jpg"
needs_videos = pytest.mark.skipif(
    not DRIVING.is_dir(), reason=f"shared test videos not found at {SHARED}"
)
needs_attacks = pytest.mark.skipif(
    not ANTISPOOF.is_dir(), reason=f"shared attack samples not found at {SHARED}"
)


def picture_in_front_of_camera(
    image: np.ndarray[Any, Any], *, sway: float, frames: int = 45
) -> list[FrameMetrics]:
    """A picture held to the camera for three seconds at 15 fps: sensor noise, and
    with `sway` > 0 the hand moving it (a perspective wobble of that share of the
    frame)."""
    rng = np.random.default_rng(7)
    height, width = image.shape[:2]
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    found = []
    for i in range(frames):
        phase = i / frames * 2 * np.pi
        shift = np.array(
            [
                [np.sin(phase + k) * sway * width, np.cos(1.3 * phase + k) * sway * height]
                for k in range(4)
            ],
            np.float32,
        )
        warp = cv2.getPerspectiveTransform(corners, corners + shift)
        frame = cv2.warpPerspective(image, warp, (width, height), borderMode=cv2.BORDER_REPLICATE)
        noisy = np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
        if (metrics := frame_metrics(noisy, i / 15)) is not None:
            found.append(metrics)
    return found


def load(path: Path) -> np.ndarray[Any, Any]:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


@needs_videos
@pytest.mark.parametrize("clip", ["d12", "d13", "d14", "d18"])
def test_real_faces_that_blink_are_live(clip: str) -> None:
    result = assess_clip(metrics_of(clip))
    assert result.decision is PassiveDecision.LIVE, result
    assert result.score >= 0.7


@needs_videos
def test_a_real_face_that_does_not_blink_is_left_for_review_not_called_a_spoof() -> None:
    result = assess_clip(metrics_of("d20"))
    assert result.decision is PassiveDecision.REVIEW, result
    assert result.depth_residual is not None and result.depth_residual > 0.012


def test_a_still_photo_turned_into_a_video_is_a_spoof() -> None:
    result = assess_clip(picture_in_front_of_camera(load(STILL), sway=0.0))
    assert result.decision is PassiveDecision.SPOOF, result
    assert result.score < 0.1


@pytest.mark.parametrize("sway", [0.02, 0.06])
def test_a_picture_moved_in_front_of_the_camera_is_never_live(sway: float) -> None:
    result = assess_clip(picture_in_front_of_camera(load(STILL), sway=sway))
    assert result.decision is not PassiveDecision.LIVE, result
    assert result.score < 0.7


@needs_attacks
@pytest.mark.parametrize("attack", ATTACKS, ids=lambda p: p.stem)
def test_attack_samples_are_never_live(attack: Path) -> None:
    assert assess_file(attack).decision is not PassiveDecision.LIVE
    held_still = assess_clip(picture_in_front_of_camera(load(attack), sway=0.0))
    assert held_still.decision is PassiveDecision.SPOOF, held_still
    moved = assess_clip(picture_in_front_of_camera(load(attack), sway=0.06))
    assert moved.decision is not PassiveDecision.LIVE, moved


@needs_attacks
def test_a_single_image_is_never_enough_to_call_a_person_live() -> None:
    result = assess_file(BONA_FIDE_STILL)
    assert result.decision is PassiveDecision.REVIEW
    assert result.depth_residual is None


def test_too_few_frames_prove_nothing() -> None:
    frames = picture_in_front_of_camera(load(STILL), sway=0.0, frames=5)
    with pytest.raises(NotEnoughFrames):
        assess_clip(frames)


def test_a_file_without_a_face_is_an_error(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 90, np.uint8))
    with pytest.raises(NotEnoughFrames):
        assess_file(blank)
    with pytest.raises(KycError):
        assess_file(tmp_path / "missing.jpg")


def test_command_line_prints_score_and_decision(tmp_path: Path) -> None:
    clip = tmp_path / "still.mp4"
    image = load(STILL)
    writer = cv2.VideoWriter(
        str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 15, (image.shape[1], image.shape[0])
    )
    rng = np.random.default_rng(3)
    for _ in range(45):
        writer.write(np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8))
    writer.release()
    command = [sys.executable, "-m", "cli", "kyc", "liveness", "--passive"]
    result = subprocess.run(
        [*command, str(clip)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed.pop("real_probability") <= 1.0
    assert printed == {"score": 0.0, "decision": "spoof"}
    missing = subprocess.run(
        [*command, str(tmp_path / "none.mp4")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 1
    assert "error" in json.loads(missing.stderr)
