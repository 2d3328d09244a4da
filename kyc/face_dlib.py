"""The dlib face engine, and dlib's models for everything else that reads faces.

dlib comes as the prebuilt `dlib-bin` wheel and its models from
`face_recognition_models` (CC0): the HOG detector built into dlib, 5-point
landmarks for alignment and pose, 68-point landmarks for liveness, and the
ResNet encoder whose 128-d descriptors are compared by Euclidean distance.
Models load once per process. CPU-bound: run in a worker.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kyc.errors import EngineUnavailable
from kyc.face_engine import Description, DetectedFace, file_sha256

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def _model_dir() -> Path:
    # Locate the models without importing the package: its __init__ uses the
    # deprecated pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable("the face_recognition_models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"


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
            _models["encoder"] = dlib.face_recognition_model_v1(str(models / ENCODER_FILE))
        return _models[name]


def rgb(image_bgr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))


def describe_model() -> Description:
    path = _model_dir() / ENCODER_FILE
    return Description("dlib", ENCODER_FILE, file_sha256(path), "CC0-1.0 (face_recognition_models)")


class DlibEngine:
    def __init__(self) -> None:
        model("encoder")
        self.description = describe_model()

    def detect(self, image_bgr: np.ndarray[Any, Any], *, small: bool) -> list[DetectedFace]:
        pixels = rgb(image_bgr)
        found = sorted(
            model("detector")(pixels, 2 if small else 1),
            key=lambda r: r.width() * r.height(),
            reverse=True,
        )
        faces = []
        for rect in found:
            shape = model("landmarks5")(pixels, rect)
            points = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)]
            # 5-point model: 0,1 one eye's corners; 2,3 the other's; 4 below the nose.
            eyes = sorted(
                [tuple(np.mean(points[0:2], axis=0)), tuple(np.mean(points[2:4], axis=0))]
            )
            faces.append(
                DetectedFace(
                    (rect.left(), rect.top(), rect.right(), rect.bottom()),
                    (float(eyes[0][0]), float(eyes[0][1])),
                    (float(eyes[1][0]), float(eyes[1][1])),
                    points[4],
                    shape,
                )
            )
        return faces

    def encode(self, image_bgr: np.ndarray[Any, Any], face: DetectedFace) -> np.ndarray[Any, Any]:
        return np.array(model("encoder").compute_face_descriptor(rgb(image_bgr), face.handle, 1))

    def distance(self, a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
        return float(np.linalg.norm(a - b))
