"""Active liveness detectors on real clips (../shared/data/video) and on a still
photo held up to the camera. Which clip shows which movement was found once by
measuring every clip (EAR, MAR, yaw, pitch against the first half second) and is
fixed here."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kyc.liveness import (
    Challenge,
    FrameMetrics,
    detected,
    frame_metrics,
    random_challenges,
)
from tests.liveness_support import DRIVING, STILL, metrics_of
from tests.shared_data import SHARED

B, L, R, N, M = (
    Challenge.BLINK,
    Challenge.TURN_LEFT,
    Challenge.TURN_RIGHT,
    Challenge.NOD,
    Challenge.OPEN_MOUTH,
)
# clip -> the movements it contains (every other challenge must not fire)
CLIPS = {
    "d12": {B, L, R, M},  # talks, turns both ways, opens the mouth wide
    "d13": {B},  # selfie-style, talking, head still
    "d14": {B, N},  # long blink, head dips and comes back
    "d18": {B, L, M},
    "d19": {B, R},
    "d20": set(),  # eyes open throughout, small movements only
}


@pytest.mark.skipif(not DRIVING.is_dir(), reason=f"shared test videos not found at {SHARED}")
@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_each_detector_fires_exactly_on_the_clips_with_its_movement(clip: str) -> None:
    fired = {challenge for challenge in Challenge if detected(challenge, metrics_of(clip))}
    assert fired == CLIPS[clip]


def test_a_still_photo_held_to_the_camera_passes_no_challenge() -> None:
    photo = cv2.imread(str(STILL))
    assert photo is not None
    rng = np.random.default_rng(1)
    frames = []
    for i in range(45):  # three seconds at 15 fps, with sensor noise
        noisy = np.clip(photo.astype(np.float32) + rng.normal(0, 3, photo.shape), 0, 255)
        found = frame_metrics(noisy.astype(np.uint8), i / 15)
        assert found is not None
        frames.append(found)
    assert not any(detected(challenge, frames) for challenge in Challenge)


def test_frames_without_exactly_one_face_give_no_metrics() -> None:
    assert frame_metrics(np.full((480, 640, 3), 128, np.uint8), 0.0) is None
    photo = cv2.imread(str(STILL))
    assert photo is not None
    assert frame_metrics(np.hstack([photo, photo]), 0.0) is None


def test_too_few_frames_prove_nothing() -> None:
    still = FrameMetrics(0.0, 0.3, 0.1, 0.0, 0.0)
    closed = FrameMetrics(0.1, 0.05, 0.1, 0.0, 0.0)
    assert not detected(Challenge.BLINK, [still, closed])


def test_challenges_are_three_distinct_and_not_always_the_same() -> None:
    draws = [tuple(random_challenges()) for _ in range(50)]
    assert all(len(set(draw)) == 3 for draw in draws)
    assert len(set(draws)) > 5
