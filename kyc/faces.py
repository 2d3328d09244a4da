"""Face detection, quality gates, encoding and comparison with dlib.

dlib comes as the prebuilt `dlib-bin` wheel and its models from
`face_recognition_models` (HOG detector built into dlib; 5-point landmarks for
alignment and pose; the ResNet encoder whose 128-d descriptors are compared by
Euclidean distance). Models load once per process. CPU-bound: run in a worker.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from statistics import median
from typing import Any

import cv2
import numpy as np

from kyc.errors import KycError
from kyc.face_thresholds import MATCH_THRESHOLD, REVIEW_THRESHOLD

MIN_FACE_PIXELS = 80
MIN_PORTRAIT_PIXELS = 60
MIN_SHARPNESS = 12.0
BRIGHTNESS_RANGE = (40.0, 220.0)
MAX_ROLL_DEGREES = 25.0
MAX_YAW_RATIO = 0.35

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


class NoUsableFace(KycError):
    code = "no_usable_face"


class Decision(StrEnum):
    MATCH = "match"
    REVIEW = "review"
    NO_MATCH = "no_match"


def _model_dir() -> Path:
    # Locate the models without importing the package: its __init__ uses the
    # deprecated pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise KycError("the face_recognition_models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model(name: str) -> Any:
    """A loaded dlib model: detector, landmarks5, landmarks68 or encoder."""
    with _models_lock:
        if not _models:
            import dlib

            models = _model_dir()
            _models["detector"] = dlib.get_frontal_face_detector()
            _models["landmarks5"] = dlib.shape_predictor(
                str(models / "shape_predictor_5_face_landmarks.dat")
            )
            _models["landmarks68"] = dlib.shape_predictor(
                str(models / "shape_predictor_68_face_landmarks.dat")
            )
            _models["encoder"] = dlib.face_recognition_model_v1(
                str(models / "dlib_face_recognition_resnet_model_v1.dat")
            )
        return _models[name]


@dataclass(frozen=True, slots=True)
class FaceSample:
    encoding: np.ndarray[Any, Any]
    box: tuple[int, int, int, int]  # left, top, right, bottom


def _rgb(image_bgr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))


def detect(image_bgr: np.ndarray[Any, Any], *, upsample: int = 1) -> list[Any]:
    """dlib rectangles of the faces in the image, largest first."""
    faces = list(model("detector")(_rgb(image_bgr), upsample))
    return sorted(faces, key=lambda r: r.width() * r.height(), reverse=True)


def quality_problem(
    image_bgr: np.ndarray[Any, Any], rect: Any, landmarks: Any, *, min_pixels: int
) -> str | None:
    """Why this face is not good enough to compare, or None."""
    if min(rect.width(), rect.height()) < min_pixels:
        return "face too small: come closer to the camera"
    height, width = image_bgr.shape[:2]
    left, top = max(rect.left(), 0), max(rect.top(), 0)
    right, bottom = min(rect.right(), width), min(rect.bottom(), height)
    crop = cv2.cvtColor(image_bgr[top:bottom, left:right], cv2.COLOR_BGR2GRAY)
    if crop.size == 0:
        return "face cut off at the edge of the picture"
    brightness = float(crop.mean())
    if not BRIGHTNESS_RANGE[0] <= brightness <= BRIGHTNESS_RANGE[1]:
        return "too dark" if brightness < BRIGHTNESS_RANGE[0] else "too bright"
    # Laplacian variance on a fixed-size crop, so sharpness does not depend on distance.
    normalised = cv2.resize(crop, (112, 112))
    if float(cv2.Laplacian(normalised, cv2.CV_64F).var()) < MIN_SHARPNESS:
        return "face blurred: hold still"
    points = [(landmarks.part(i).x, landmarks.part(i).y) for i in range(5)]
    # 5-point model: 0,1 one eye's corners; 2,3 the other's; 4 below the nose.
    eye_a = np.mean(points[0:2], axis=0)
    eye_b = np.mean(points[2:4], axis=0)
    roll = float(np.degrees(np.arctan2(eye_b[1] - eye_a[1], eye_b[0] - eye_a[0])))
    roll = min(abs(roll), abs(abs(roll) - 180))
    if roll > MAX_ROLL_DEGREES:
        return "head tilted: hold your head straight"
    eye_distance = float(np.linalg.norm(eye_b - eye_a))
    yaw = abs(points[4][0] - (eye_a[0] + eye_b[0]) / 2) / max(eye_distance, 1.0)
    if yaw > MAX_YAW_RATIO:
        return "face turned away: look at the camera"
    return None


def sample(image_bgr: np.ndarray[Any, Any], *, portrait: bool = False) -> FaceSample:
    """The one face to compare in this image. A live frame must hold exactly one
    face; on an ID card the largest face is the portrait."""
    faces = detect(image_bgr, upsample=2 if portrait else 1)
    if not faces:
        raise NoUsableFace("no face found")
    if len(faces) > 1 and not portrait:
        raise NoUsableFace("more than one face in the picture")
    rect = faces[0]
    rgb = _rgb(image_bgr)
    landmarks = model("landmarks5")(rgb, rect)
    problem = quality_problem(
        image_bgr,
        rect,
        landmarks,
        min_pixels=MIN_PORTRAIT_PIXELS if portrait else MIN_FACE_PIXELS,
    )
    if problem:
        raise NoUsableFace(problem)
    encoding = np.array(model("encoder").compute_face_descriptor(rgb, landmarks, 1))
    return FaceSample(encoding, (rect.left(), rect.top(), rect.right(), rect.bottom()))


def distance(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return float(np.linalg.norm(a - b))


def aggregate_distance(reference: FaceSample, live: list[FaceSample]) -> float:
    """Median distance of the live samples to the reference: one bad frame neither
    passes nor fails a check by itself."""
    if not live:
        raise NoUsableFace("no usable live frame")
    return median(distance(reference.encoding, s.encoding) for s in live)


def decide(value: float) -> Decision:
    if value <= MATCH_THRESHOLD:
        return Decision.MATCH
    if value <= REVIEW_THRESHOLD:
        return Decision.REVIEW
    return Decision.NO_MATCH


def head_crop(image_bgr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Head and shoulders around the largest face, in ID-photo proportions (the
    portrait box is 26 x 32), for specimens and for showing a portrait."""
    found = detect(image_bgr)
    if not found:
        raise NoUsableFace("no face found")
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
