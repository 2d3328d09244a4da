"""Active liveness: did the person on camera do what they were asked?

Per frame, from dlib's 68 landmarks: eye aspect ratio (EAR, falls when the eyes
close), mouth aspect ratio (MAR, rises when the mouth opens), and head yaw and
pitch from solvePnP against a generic face model. Each challenge is a change
against the person's own baseline (the first half second), so faces and cameras
that differ in resting shape are judged alike. Turns are in the person's own
sense on an unmirrored camera image: positive yaw is a turn to their right.

A still photo held up to the camera, or a replayed clip of another movement, does
not produce the change asked for. Thresholds were set on the real clips in
../shared/data/video (see the tests for which clip shows which movement).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from statistics import median
from typing import Any

import cv2
import numpy as np

from kyc import face_pad
from kyc.errors import KycError
from kyc.face_dlib import model
from kyc.intake import MAX_CLIP_FRAMES

BLINK_EAR_RATIO = 0.6  # eyes closed: EAR below this share of the baseline
BLINK_REOPEN_RATIO = 0.85
MOUTH_OPEN_MAR = 0.5
MOUTH_OPEN_SAMPLES = 2
TURN_DEGREES = 15.0
NOD_DEGREES = 13.0
NOD_RETURN_DEGREES = 6.0
BASELINE_SECONDS = 0.5
WITHIN_SECONDS = 2.0

# Generic 3-D face points (nose tip, chin, eye outer corners, mouth corners), mm.
_FACE_MODEL = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, -330.0, -65.0),
        (-225.0, 170.0, -135.0),
        (225.0, 170.0, -135.0),
        (-150.0, -150.0, -125.0),
        (150.0, -150.0, -125.0),
    ]
)
_MODEL_LANDMARKS = (30, 8, 36, 45, 48, 54)


class Challenge(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    NOD = "nod"
    OPEN_MOUTH = "open_mouth"


@dataclass(frozen=True, slots=True)
class FrameMetrics:
    seconds: float
    ear: float
    mar: float
    yaw: float
    pitch: float
    # The 68 landmarks in pixels, for the passive cues (kyc.passive); empty when
    # the metrics were made by hand.
    landmarks: np.ndarray[Any, Any] = field(
        default_factory=lambda: np.empty((0, 2)), compare=False, repr=False
    )
    # MiniFASNet's probability that this frame shows a live face rather than a
    # print or a screen (kyc.face_pad); None when the metrics were made by hand.
    real_probability: float | None = field(default=None, compare=False)


def _eye_ratio(eye: np.ndarray[Any, Any]) -> float:
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    return float(vertical / (2 * np.linalg.norm(eye[0] - eye[3])))


def _mouth_ratio(points: np.ndarray[Any, Any]) -> float:
    vertical = sum(np.linalg.norm(points[a] - points[b]) for a, b in ((61, 67), (62, 66), (63, 65)))
    return float(vertical / (3 * np.linalg.norm(points[60] - points[64])))


def _head_pose(points: np.ndarray[Any, Any], shape: tuple[int, ...]) -> tuple[float, float]:
    height, width = shape[:2]
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=float)
    image_points = np.array([points[i] for i in _MODEL_LANDMARKS], dtype=float)
    ok, rotation, _translation = cv2.solvePnP(
        _FACE_MODEL, image_points, camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        raise KycError("head pose could not be estimated")
    matrix, _jacobian = cv2.Rodrigues(rotation)
    yaw = np.degrees(np.arctan2(-matrix[2, 0], np.hypot(matrix[0, 0], matrix[1, 0])))
    pitch = np.degrees(np.arctan2(matrix[2, 1], matrix[2, 2]))
    # The model's y axis points up, the image's down: pitch comes out near ±180.
    return float(yaw), float((pitch + 360) % 360 - 180)


def frame_metrics(image_bgr: np.ndarray[Any, Any], seconds: float) -> FrameMetrics | None:
    """Metrics of the one face in the frame, or None if there is not exactly one."""
    rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
    faces = model("detector")(rgb, 0)
    if len(faces) != 1:
        return None
    shape = model("landmarks68")(rgb, faces[0])
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=float)
    ear = (_eye_ratio(points[36:42]) + _eye_ratio(points[42:48])) / 2
    yaw, pitch = _head_pose(points, image_bgr.shape)
    real = face_pad.real_probability(image_bgr, points)
    return FrameMetrics(seconds, ear, _mouth_ratio(points), yaw, pitch, points, real)


def clip_metrics(path: Path, *, sample_fps: float = 15.0) -> list[FrameMetrics]:
    """Metrics of a video file, sampled at about `sample_fps`."""
    capture = cv2.VideoCapture(str(path))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        # Browsers' WebM reports its 1 kHz time base, or nothing, as the frame rate.
        if not 1 <= fps <= 120:
            fps = 30.0
        step = max(1, round(fps / sample_fps))
        metrics: list[FrameMetrics] = []
        index = 0
        while index < MAX_CLIP_FRAMES:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                # Timestamps from the container, not the index: browsers record at
                # a variable frame rate.
                seconds = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
                if (found := frame_metrics(frame, seconds)) is not None:
                    metrics.append(found)
            index += 1
    finally:
        capture.release()
    if not metrics:
        raise KycError(f"{path.name}: no frame with exactly one face")
    return metrics


def _baseline(metrics: list[FrameMetrics]) -> FrameMetrics:
    start = metrics[0].seconds
    first = [m for m in metrics if m.seconds - start <= BASELINE_SECONDS] or metrics[:1]
    return FrameMetrics(
        start,
        median(m.ear for m in first),
        median(m.mar for m in first),
        median(m.yaw for m in first),
        median(m.pitch for m in first),
    )


def _blinked(metrics: list[FrameMetrics], base: FrameMetrics) -> bool:
    """Eyes closed on some frame and open again within a second."""
    return any(
        m.ear < BLINK_EAR_RATIO * base.ear
        and any(
            n.ear > BLINK_REOPEN_RATIO * base.ear and 0 < n.seconds - m.seconds <= 1.0
            for n in metrics[i + 1 :]
        )
        for i, m in enumerate(metrics)
    )


def _mouth_opened(metrics: list[FrameMetrics]) -> bool:
    run = 0
    for m in metrics:
        run = run + 1 if m.mar >= MOUTH_OPEN_MAR else 0
        if run >= MOUTH_OPEN_SAMPLES:
            return True
    return False


def _nodded(metrics: list[FrameMetrics], base: FrameMetrics) -> bool:
    for i, m in enumerate(metrics):
        if abs(m.pitch - base.pitch) >= NOD_DEGREES:
            return any(
                abs(n.pitch - base.pitch) <= NOD_RETURN_DEGREES
                and n.seconds - m.seconds <= WITHIN_SECONDS
                for n in metrics[i + 1 :]
            )
    return False


def detected(challenge: Challenge, metrics: list[FrameMetrics]) -> bool:
    """Whether the movement asked for happens in these frames."""
    if len(metrics) < 3:
        return False
    base = _baseline(metrics)
    match challenge:
        case Challenge.BLINK:
            return _blinked(metrics, base)
        case Challenge.OPEN_MOUTH:
            return _mouth_opened(metrics)
        case Challenge.TURN_RIGHT:
            return max(m.yaw - base.yaw for m in metrics) >= TURN_DEGREES
        case Challenge.TURN_LEFT:
            return min(m.yaw - base.yaw for m in metrics) <= -TURN_DEGREES
        case Challenge.NOD:
            return _nodded(metrics, base)


def random_challenges(count: int = 3) -> list[Challenge]:
    """Distinct challenges in an order the applicant cannot predict."""
    pool = list(Challenge)
    return [pool.pop(secrets.randbelow(len(pool))) for _ in range(count)]


def challenge_windows(count: int, *, lead_in: float, window: float) -> list[tuple[float, float]]:
    """When each prompt is on screen, in seconds from the start of the recording."""
    return [(lead_in + i * window, lead_in + (i + 1) * window) for i in range(count)]


def _peak(challenge: Challenge, shown: list[FrameMetrics], base: FrameMetrics) -> float:
    """When, in these frames, the movement asked for was strongest."""
    strength = {
        Challenge.BLINK: lambda m: -m.ear,
        Challenge.OPEN_MOUTH: lambda m: m.mar,
        Challenge.TURN_RIGHT: lambda m: m.yaw,
        Challenge.TURN_LEFT: lambda m: -m.yaw,
        Challenge.NOD: lambda m: abs(m.pitch - base.pitch),
    }[challenge]
    return max(shown, key=strength).seconds


@dataclass(frozen=True, slots=True)
class ChallengeOutcome:
    challenge: Challenge
    detected: bool
    peak_seconds: float | None  # the frame to keep as evidence; None if none was seen


def answered(
    challenge: Challenge, baseline: list[FrameMetrics], shown: list[FrameMetrics]
) -> ChallengeOutcome:
    """Whether the movement asked for happens in the frames `shown` while its
    prompt was on screen, against the person at rest (`baseline`, before the
    first prompt), and the frame where it was strongest."""
    if not shown:
        return ChallengeOutcome(challenge, False, None)
    found = detected(challenge, baseline + shown)
    return ChallengeOutcome(challenge, found, _peak(challenge, shown, _baseline(baseline or shown)))


def evaluate(
    metrics: list[FrameMetrics], challenges: list[Challenge], *, lead_in: float, window: float
) -> list[ChallengeOutcome]:
    """Whether each challenge happened while its prompt was shown. The baseline is
    the start of the recording, before the first prompt."""
    start = metrics[0].seconds if metrics else 0.0
    baseline = [m for m in metrics if m.seconds - start <= BASELINE_SECONDS]
    return [
        answered(challenge, baseline, [m for m in metrics if begin <= m.seconds < end])
        for challenge, (begin, end) in zip(
            challenges,
            challenge_windows(len(challenges), lead_in=lead_in, window=window),
            strict=True,
        )
    ]


def frames_at(path: Path, seconds: list[float], *, quality: int = 90) -> dict[float, bytes]:
    """JPEG stills of the clip at (the first frame at or after) each time; a time
    past the end of the clip has none."""
    wanted = sorted(set(seconds))
    found: dict[float, bytes] = {}
    capture = cv2.VideoCapture(str(path))
    try:
        for _ in range(MAX_CLIP_FRAMES):
            if len(found) == len(wanted):
                break
            ok, frame = capture.read()
            if not ok:
                break
            now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
            for time in wanted:
                if time not in found and now >= time - 1e-3:
                    encoded_ok, encoded = cv2.imencode(
                        ".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality]
                    )
                    if encoded_ok:
                        found[time] = encoded.tobytes()
    finally:
        capture.release()
    return found
