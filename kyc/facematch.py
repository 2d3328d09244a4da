"""Face match between files: photos (an ID card, a selfie) and videos (live clips).

A photo gives its largest face; a video gives up to `VIDEO_SAMPLES` frames spread
over the clip, each of which must hold exactly one usable face. The distance
between two files is the median over all pairs of their samples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import cv2
import numpy as np

from kyc.errors import KycError, NoUsableFace
from kyc.faces import FaceSample, decide, distance, sample
from kyc.intake import MAX_CLIP_FRAMES

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".webm", ".mkv", ".avi", ".y4m"})
VIDEO_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class MatchResult:
    distance: float
    decision: str

    def as_json(self) -> dict[str, Any]:
        return {"distance": round(self.distance, 4), "decision": self.decision}


def video_frames(path: Path, count: int = VIDEO_SAMPLES) -> list[np.ndarray[Any, Any]]:
    capture = cv2.VideoCapture(str(path))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if not 0 < total <= MAX_CLIP_FRAMES:
            # Browsers' WebM declares no length, and a container's claim may be
            # false: count by grabbing (no decoding), up to the bound.
            total = 0
            while total < MAX_CLIP_FRAMES and capture.grab():
                total += 1
            capture.release()
            capture = cv2.VideoCapture(str(path))
        if total <= 0:
            raise KycError(f"{path.name}: not a readable video")
        wanted = set(np.linspace(total * 0.1, total * 0.9, count).astype(int).tolist())
        frames = []
        for index in range(max(wanted) + 1):
            if index in wanted:
                ok, frame = capture.read()
                if not ok:
                    break
                frames.append(frame)
            elif not capture.grab():
                break
        return frames
    finally:
        capture.release()


def samples_from(path: Path) -> list[FaceSample]:
    """Usable face samples in a photo or video; NoUsableFace if there are none."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        found = []
        reasons = []
        for frame in video_frames(path):
            try:
                found.append(sample(frame))
            except NoUsableFace as exc:
                reasons.append(str(exc))
        if not found:
            raise NoUsableFace(f"no usable face in the video ({'; '.join(sorted(set(reasons)))})")
        return found
    image = cv2.imread(str(path))
    if image is None:
        raise KycError(f"{path.name}: not a readable image")
    return [sample(image, portrait=True)]


def distance_between(a: list[FaceSample], b: list[FaceSample]) -> float:
    return median(distance(x.encoding, y.encoding) for x, y in itertools.product(a, b))


def compare(a: list[FaceSample], b: list[FaceSample]) -> MatchResult:
    value = distance_between(a, b)
    return MatchResult(value, decide(value).value)
