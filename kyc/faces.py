"""Face detection, quality gates, encoding and comparison, on the configured
face engine (kyc/face_engine.py: dlib or ArcFace).

The quality gates are the engine's business only through the face it found (box,
eyes, nose), so both engines refuse the same kinds of picture. CPU-bound: run in
a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from statistics import median
from typing import Any

import cv2
import numpy as np

from kyc.errors import NoUsableFace
from kyc.face_dlib import model, rgb
from kyc.face_engine import DetectedFace, FaceConfig, engine
from kyc.face_thresholds import thresholds_for

# Between the eyes' centres, which both engines place alike (their boxes differ;
# dlib's is about 2.8 times this wide): 28 px is an 80 px dlib face.
MIN_EYE_PIXELS = 28
MIN_PORTRAIT_EYE_PIXELS = 21
MIN_SHARPNESS = 12.0
BRIGHTNESS_RANGE = (40.0, 220.0)
MAX_ROLL_DEGREES = 25.0
MAX_YAW_RATIO = 0.35


class Decision(StrEnum):
    MATCH = "match"
    REVIEW = "review"
    NO_MATCH = "no_match"


@dataclass(frozen=True, slots=True)
class FaceSample:
    encoding: np.ndarray[Any, Any]
    box: tuple[int, int, int, int]  # left, top, right, bottom


# Why no face could be compared (NoUsableFace's `reason`), in words for a log.
FACE_PROBLEMS = {
    "no_face": "no face found",
    "several_faces": "more than one face in the picture",
    "too_small": "face too small: come closer to the camera",
    "cut_off": "face cut off at the edge of the picture",
    "too_dark": "too dark",
    "too_bright": "too bright",
    "blurred": "face blurred: hold still",
    "tilted": "head tilted: hold your head straight",
    "turned_away": "face turned away: look at the camera",
    "no_live_frame": "no usable live frame",
}


def no_usable_face(reason: str) -> NoUsableFace:
    return NoUsableFace(FACE_PROBLEMS[reason], reason=reason)


def quality_problem(
    image_bgr: np.ndarray[Any, Any], face: DetectedFace, *, min_pixels: int
) -> str | None:
    """Why this face is not good enough to compare (a FACE_PROBLEMS key), or None."""
    eye_a, eye_b = np.array(face.eye_a), np.array(face.eye_b)
    eye_distance = float(np.linalg.norm(eye_b - eye_a))
    if eye_distance < min_pixels:
        return "too_small"
    height, width = image_bgr.shape[:2]
    left, top, right, bottom = face.box
    left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
    if right <= left or bottom <= top:
        return "cut_off"
    crop = cv2.cvtColor(image_bgr[top:bottom, left:right], cv2.COLOR_BGR2GRAY)
    brightness = float(crop.mean())
    if not BRIGHTNESS_RANGE[0] <= brightness <= BRIGHTNESS_RANGE[1]:
        return "too_dark" if brightness < BRIGHTNESS_RANGE[0] else "too_bright"
    # Laplacian variance on a fixed-size crop, so sharpness does not depend on distance.
    normalised = cv2.resize(crop, (112, 112))
    if float(cv2.Laplacian(normalised, cv2.CV_64F).var()) < MIN_SHARPNESS:
        return "blurred"
    roll = float(np.degrees(np.arctan2(eye_b[1] - eye_a[1], eye_b[0] - eye_a[0])))
    roll = min(abs(roll), abs(abs(roll) - 180))
    if roll > MAX_ROLL_DEGREES:
        return "tilted"
    yaw = abs(face.nose[0] - (eye_a[0] + eye_b[0]) / 2) / max(eye_distance, 1.0)
    if yaw > MAX_YAW_RATIO:
        return "turned_away"
    return None


def sample(image_bgr: np.ndarray[Any, Any], *, portrait: bool = False) -> FaceSample:
    """The one face to compare in this image. A live frame must hold exactly one
    face; on an ID card the largest face is the portrait."""
    faces = engine().detect(image_bgr, small=portrait)
    if not faces:
        raise no_usable_face("no_face")
    if len(faces) > 1 and not portrait:
        raise no_usable_face("several_faces")
    face = faces[0]
    problem = quality_problem(
        image_bgr, face, min_pixels=MIN_PORTRAIT_EYE_PIXELS if portrait else MIN_EYE_PIXELS
    )
    if problem:
        raise no_usable_face(problem)
    return FaceSample(engine().encode(image_bgr, face), face.box)


def distance(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return engine().distance(a, b)


def aggregate_distance(reference: FaceSample, live: list[FaceSample]) -> float:
    """Median distance of the live samples to the reference: one bad frame neither
    passes nor fails a check by itself."""
    if not live:
        raise no_usable_face("no_live_frame")
    return median(distance(reference.encoding, s.encoding) for s in live)


def decide(value: float) -> Decision:
    limits = thresholds_for(engine().description, FaceConfig.from_environ().thresholds)
    if value <= limits.match:
        return Decision.MATCH
    if value <= limits.review:
        return Decision.REVIEW
    return Decision.NO_MATCH


def head_crop(image_bgr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Head and shoulders around the largest face, in ID-photo proportions (the
    portrait box is 26 x 32), for specimens and for showing a portrait."""
    # Always dlib's detector, whatever the engine: the crop is sized on its box,
    # and specimens must not change with the deployment's engine.
    found = sorted(
        model("detector")(rgb(image_bgr), 1), key=lambda r: r.width() * r.height(), reverse=True
    )
    if not found:
        raise no_usable_face("no_face")
    rect = found[0]
    height, width = image_bgr.shape[:2]
    centre_x = (rect.left() + rect.right()) / 2
    centre_y = (rect.top() + rect.bottom()) / 2 + 0.15 * rect.height()
    crop_w = 2.2 * rect.width()
    crop_h = crop_w * 32 / 26
    left = int(max(centre_x - crop_w / 2, 0))
    top = int(max(centre_y - crop_h / 2, 0))
    right = int(min(centre_x + crop_w / 2, width))
    bottom = int(min(centre_y + crop_h / 2, height))
    return image_bgr[top:bottom, left:right].copy()
