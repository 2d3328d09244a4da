"""Passive liveness: is a live person in front of the camera, or a picture of one?

Two cues from the 68 landmarks the active check already computes, so a clip is
decoded once:

- Depth: a flat picture, however it is held or moved, maps its landmarks from frame
  to frame by one homography. A live head does not (the nose moves against the
  cheeks and jaw, the face changes shape). The residual of the best homography over
  the rigid landmarks, relative to the eye distance, is near the landmark noise for
  a picture and above it for a face.
- Blink: a spontaneous blink (eyes close to under 60 % of their median opening and
  reopen within a second) cannot come from a print.

A still picture (print or frozen screen) shows neither and is a spoof. A blink with
depth is live. Anything between (a picture moved by hand produces some residual
through landmark jitter; a real person may not blink in a short clip) is left for
review. A single image carries neither cue and is always review.

Measured on ../shared/data (see tests/test_kyc_passive.py and bench-kyc): residual
0.007-0.012 for still pictures, 0.016-0.030 for pictures moved in front of the
camera, 0.018-0.167 for real faces. Moiré, screen-edge and colour cues were
measured on the same images and did not separate the attack photos from LFW's
bona fide ones (JPEG block artefacts and architecture look alike), so they are not
used; a screen replaying a real video of the applicant defeats both cues here and
is what the random active challenges are for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from statistics import median

import cv2
import numpy as np

from kyc.errors import KycError
from kyc.facematch import VIDEO_SUFFIXES
from kyc.liveness import BLINK_EAR_RATIO, FrameMetrics, clip_metrics, frame_metrics

STILL_RESIDUAL = 0.012  # at or below: the landmarks moved like a flat picture's
MOVING_RESIDUAL = 0.025  # at or above: clear 3-D or non-rigid movement
OPEN_EYES_RATIO = 0.85  # EAR share of the median that counts as eyes open
LIVE_SCORE = 0.7
DEPTH_WEIGHT = 0.4  # the rest is the blink's; depth alone cannot reach LIVE_SCORE
MIN_FRAMES = 10
MIN_SECONDS = 1.5

# Jaw line, nose bridge and base, outer and inner eye corners: points that move
# with the skull, not with expression.
RIGID_LANDMARKS = [*range(17), *range(27, 36), 36, 39, 42, 45]


class PassiveDecision(StrEnum):
    LIVE = "live"
    REVIEW = "review"
    SPOOF = "spoof"


class NotEnoughFrames(KycError):
    code = "not_enough_frames"


@dataclass(frozen=True, slots=True)
class PassiveResult:
    score: float  # 0 (a picture) to 1 (a live person)
    decision: PassiveDecision
    depth_residual: float | None
    blink_ratio: float | None
    frames: int

    def as_json(self) -> dict[str, object]:
        # Text, not floats: the audit log's canonical JSON refuses floats.
        return {
            "score": f"{self.score:.3f}",
            "decision": self.decision.value,
            "depth_residual": None if self.depth_residual is None else f"{self.depth_residual:.4f}",
            "blink_ratio": None if self.blink_ratio is None else f"{self.blink_ratio:.3f}",
            "frames": self.frames,
        }


def depth_residual(metrics: list[FrameMetrics]) -> float:
    """90th percentile, over frames, of the rigid landmarks' distance from where the
    best homography from the first frame puts them, in eye distances."""
    reference = metrics[0].landmarks[RIGID_LANDMARKS].astype(np.float32)
    eyes = float(np.linalg.norm(metrics[0].landmarks[36] - metrics[0].landmarks[45]))
    residuals = []
    for frame in metrics[1:]:
        points = frame.landmarks[RIGID_LANDMARKS].astype(np.float32)
        homography, _mask = cv2.findHomography(reference, points, 0)
        if homography is None:
            continue
        projected = cv2.perspectiveTransform(reference[None], homography)[0]
        residuals.append(float(np.sqrt(((projected - points) ** 2).sum(axis=1).mean())) / eyes)
    if not residuals:
        raise NotEnoughFrames("the face could not be followed from frame to frame")
    return float(np.percentile(residuals, 90))


def blink_ratio(metrics: list[FrameMetrics]) -> float:
    """The lowest eye opening, as a share of the clip's median, from which the eyes
    opened again within a second (1.0 when they never did)."""
    typical = median(m.ear for m in metrics)
    lowest = 1.0
    for i, m in enumerate(metrics):
        reopened = any(
            n.ear >= OPEN_EYES_RATIO * typical and 0 < n.seconds - m.seconds <= 1.0
            for n in metrics[i + 1 :]
        )
        if reopened:
            lowest = min(lowest, m.ear / typical)
    return lowest


def _ramp(value: float, zero: float, one: float) -> float:
    return float(min(max((value - zero) / (one - zero), 0.0), 1.0))


def assess_clip(metrics: list[FrameMetrics]) -> PassiveResult:
    """Passive decision over the frames of a clip in which one face was found."""
    usable = [m for m in metrics if len(m.landmarks) == 68]
    if len(usable) < MIN_FRAMES or usable[-1].seconds - usable[0].seconds < MIN_SECONDS:
        raise NotEnoughFrames(
            f"a face was seen in {len(usable)} frames; at least {MIN_FRAMES} over "
            f"{MIN_SECONDS:.1f} seconds are needed"
        )
    residual = depth_residual(usable)
    blink = blink_ratio(usable)
    depth = _ramp(residual, STILL_RESIDUAL, MOVING_RESIDUAL)
    blinked = _ramp(OPEN_EYES_RATIO - blink, 0.0, OPEN_EYES_RATIO - BLINK_EAR_RATIO)
    score = DEPTH_WEIGHT * depth + (1 - DEPTH_WEIGHT) * blinked
    if residual <= STILL_RESIDUAL:
        decision = PassiveDecision.SPOOF
    elif score >= LIVE_SCORE and blink < BLINK_EAR_RATIO:
        decision = PassiveDecision.LIVE
    else:
        decision = PassiveDecision.REVIEW
    return PassiveResult(score, decision, residual, blink, len(usable))


def assess_image() -> PassiveResult:
    """A single image shows neither movement nor a blink: never live, never proven
    a spoof by these cues either."""
    return PassiveResult(0.5, PassiveDecision.REVIEW, None, None, 1)


def assess_file(path: Path) -> PassiveResult:
    """Passive decision for a video or image file (the operators' command line)."""
    if not path.is_file():
        raise KycError(f"{path.name}: no such file")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return assess_clip(clip_metrics(path))
    image = cv2.imread(str(path))
    if image is None:
        raise KycError(f"{path.name}: not a readable image or video")
    if frame_metrics(image, 0.0) is None:
        raise NotEnoughFrames(f"{path.name}: not exactly one face in the image")
    return assess_image()
