"""The face engine a deployment runs: what finds a face and what encodes it.

Two real engines sit behind one interface. `dlib` (the ResNet descriptor from
`face_recognition_models`, CC0) is licence-clean but separates East Asian faces
poorly, so its calibrated thresholds send most genuine pairs to a person.
`arcface` runs any ArcFace-format ONNX model (112x112 aligned input, an
embedding out) behind the SCRFD detector; the InsightFace files it finds by
default are for non-commercial research only, and a bank points
SIGNROOM_FACE_MODEL at its own licensed model.

Chosen by SIGNROOM_FACE_ENGINE (`dlib` | `arcface`) and SIGNROOM_FACE_MODEL, read
from the environment in each process (the server and its worker processes
alike). Thresholds belong to a model (kyc/face_thresholds.py).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kyc.errors import EngineUnavailable

ENGINES = ("dlib", "arcface")


@dataclass(frozen=True, slots=True)
class DetectedFace:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    # The eyes' centres (in image order, left to right) and the nose; with the
    # mouth's corners when the detector gives them.
    eye_a: tuple[float, float]
    eye_b: tuple[float, float]
    nose: tuple[float, float]
    # What the engine needs to encode this face (dlib's landmark object, the
    # detector's five points).
    handle: Any


@dataclass(frozen=True, slots=True)
class Description:
    """What runs, for /readyz, the startup log and every result: engine, model
    file and hash, and the licence its weights come under."""

    engine: str
    model: str
    sha256: str
    licence: str

    def reference(self) -> dict[str, str]:
        """What a face match's audit entry names: distances only mean something
        against the model (and so the thresholds) that produced them."""
        return {"engine": self.engine, "model": self.model, "sha256": self.sha256}

    def as_json(self) -> dict[str, str]:
        return {
            "engine": self.engine,
            "model": self.model,
            "sha256": self.sha256,
            "licence": self.licence,
        }


class FaceEngine(Protocol):
    description: Description

    def detect(self, image_bgr: np.ndarray[Any, Any], *, small: bool) -> list[DetectedFace]:
        """Faces in the image, largest first; `small` looks harder for small ones
        (an ID card's portrait)."""

    def encode(self, image_bgr: np.ndarray[Any, Any], face: DetectedFace) -> np.ndarray[Any, Any]:
        """The face's embedding (aligned by the engine itself)."""

    def distance(self, a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
        """Smaller is more alike; the thresholds are in this unit."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class FaceConfig:
    """Which engine and model run, and the thresholds file for a bank's own model."""

    engine: str = "dlib"
    model: str = ""
    thresholds: str = ""

    @classmethod
    def from_environ(cls) -> FaceConfig:
        name = os.environ.get("SIGNROOM_FACE_ENGINE", "dlib").strip() or "dlib"
        if name not in ENGINES:
            raise EngineUnavailable(
                f"SIGNROOM_FACE_ENGINE must be one of {', '.join(ENGINES)}; got {name!r}"
            )
        return cls(
            name,
            os.environ.get("SIGNROOM_FACE_MODEL", "").strip(),
            os.environ.get("SIGNROOM_FACE_THRESHOLDS", "").strip(),
        )


def configure(config: FaceConfig) -> None:
    """Make `config` this process's face configuration: each KYC worker process
    calls it with the service's settings (which may come from a file)."""
    os.environ["SIGNROOM_FACE_ENGINE"] = config.engine
    os.environ["SIGNROOM_FACE_MODEL"] = config.model
    os.environ["SIGNROOM_FACE_THRESHOLDS"] = config.thresholds


_engines: dict[FaceConfig, FaceEngine] = {}
_lock = threading.Lock()


def describe(config: FaceConfig) -> Description:
    """What `config` runs, without loading it (for /readyz and the startup log)."""
    if config.engine == "arcface":
        from kyc.face_arcface import describe_model

        return describe_model(Path(config.model) if config.model else None)
    from kyc.face_dlib import describe_model as describe_dlib

    return describe_dlib()


def engine() -> FaceEngine:
    """The configured engine, loaded once per process (per configuration: a
    benchmark compares engines in one process)."""
    config = FaceConfig.from_environ()
    with _lock:
        if config not in _engines:
            if config.engine == "arcface":
                from kyc.face_arcface import ArcFaceEngine

                _engines[config] = ArcFaceEngine(Path(config.model) if config.model else None)
            else:
                from kyc.face_dlib import DlibEngine

                _engines[config] = DlibEngine()
        return _engines[config]
