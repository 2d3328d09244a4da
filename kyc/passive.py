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

A third, learnt cue: MiniFASNet (kyc.face_pad) scores each frame for print and
screen artefacts around the face. Its median over the clip's frames (never one
frame) is evidence, not yet a gate: below PAD_REVIEW the attempt cannot be
`live` and goes to review; it never calls a spoof on its own. Measured on
../shared/data (bench-kyc-liveness): per-frame probabilities of at most 0.03 on
NUAA's 139 print frames with a face and at most 0.44 on the other prints and
screens; clip medians of 0.56-1.00 on eleven real face videos; 15 of 147 live
NUAA webcam frames score below 0.5 one by one, which is why it is a median.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from statistics import median

import cv2
import numpy as np

from kyc import face_pad
from kyc.errors import KycError, NotEnoughFrames
from kyc.facematch import VIDEO_SUFFIXES
from kyc.liveness import BLINK_EAR_RATIO, FrameMetrics, clip_metrics, frame_metrics

STILL_RESIDUAL = 0.012  # at or below: the landmarks moved like a flat picture's
MOVING_RESIDUAL = 0.025  # at or above: clear 3-D or non-rigid movement
OPEN_EYES_RATIO = 0.85  # EAR share of the median that counts as eyes open
LIVE_SCORE = 0.7
DEPTH_WEIGHT = 0.4  # the rest is the blink's; depth alone cannot reach LIVE_SCORE
MIN_FRAMES = 10
MIN_SECONDS = 1.5
# Median MiniFASNet probability of a live face below which a clip cannot be live.
PAD_REVIEW = 0.5

# Jaw line, nose bridge and base, outer and inner eye corners: points that move
# with the skull, not with expression.
RIGID_LANDMARKS = [*range(17), *range(27, 36), 36, 39, 42, 45]


class PassiveDecision(StrEnum):
    LIVE = "live"
    REVIEW = "review"
    SPOOF = "spoof"


@dataclass(frozen=True, slots=True)
class PassiveResult:
    score: float  # 0 (a picture) to 1 (a live person)
    decision: PassiveDecision
    depth_residual: float | None
    blink_ratio: float | None
    frames: int
    # Median MiniFASNet probability of a live face over the frames (kyc.face_pad).
    real_probability: float | None = None

    def as_json(self) -> dict[str, object]:
        # Text, not floats: the audit log's canonical JSON refuses floats.
        return {
            "score": f"{self.score:.3f}",
            "decision": self.decision.value,
            "depth_residual": None if self.depth_residual is None else f"{self.depth_residual:.4f}",
            "blink_ratio": None if self.blink_ratio is None else f"{self.blink_ratio:.3f}",
            "frames": self.frames,
            "real_probability": None
            if self.real_probability is None
            else f"{self.real_probability:.3f}",
            "pad_model": face_pad.DESCRIPTION,
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
    real = real_probability(usable)
    # A clip the network finds attack-like, or could not score, is never live.
    attack_like = real is None or real < PAD_REVIEW
    if residual <= STILL_RESIDUAL:
        decision = PassiveDecision.SPOOF
    elif score >= LIVE_SCORE and blink < BLINK_EAR_RATIO and not attack_like:
        decision = PassiveDecision.LIVE
    else:
        decision = PassiveDecision.REVIEW
    return PassiveResult(score, decision, residual, blink, len(usable), real)


def real_probability(metrics: list[FrameMetrics]) -> float | None:
    """Median of the frames' MiniFASNet scores, when at least MIN_FRAMES have one."""
    scores = [m.real_probability for m in metrics if m.real_probability is not None]
    return median(scores) if len(scores) >= MIN_FRAMES else None


def assess_image(metrics: FrameMetrics) -> PassiveResult:
    """A single image shows neither movement nor a blink: never live, never proven
    a spoof by these cues either. Its MiniFASNet score is reported as evidence."""
    return PassiveResult(0.5, PassiveDecision.REVIEW, None, None, 1, metrics.real_probability)


def assess_file(path: Path) -> PassiveResult:
    """Passive decision for a video or image file (the operators' command line)."""
    if not path.is_file():
        raise KycError(f"{path.name}: no such file")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return assess_clip(clip_metrics(path))
    image = cv2.imread(str(path))
    if image is None:
        raise KycError(f"{path.name}: not a readable image or video")
    if (metrics := frame_metrics(image, 0.0)) is None:
        raise NotEnoughFrames(f"{path.name}: not exactly one face in the image")
    return assess_image(metrics)
