"""Presentation-attack scores from minivision's MiniFASNet networks.

Two small CNNs (Silent-Face-Anti-Spoofing, Apache-2.0; exported to ONNX by
scripts/export_minifasnet.py, files in kyc/pad_models with the licence and a
NOTICE) look at a face with its surroundings, one at 2.7x and one at 4x the face
box, and give the probability that it is a real face rather than a print or a
screen. They learnt the context around the face (paper edges, screen bezels,
moiré), so they need the full camera frame: on tight face crops they fail.

They were trained with a RetinaFace box. We ship no RetinaFace (its training
data is non-commercial), so the box is made from the 68 dlib landmarks the
liveness check computes anyway, scaled to where a WIDER FACE-trained detector
puts its box: measured on 77 live frames (NUAA webcam frames, LivePortrait
clips) against SCRFD's boxes, that box is 0.96x the landmarks' width, 1.28x their
height, and centred 0.16 of their height higher (10th-90th percentiles within
3 % of these).

CPU-bound (about 10 ms per frame for both networks): run in a worker.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from kyc.errors import EngineUnavailable
from kyc.face_engine import file_sha256

MODEL_DIR = Path(__file__).parent / "pad_models"
# file -> (crop scale, sha256): pinned, since a different file is a different model
# whose scores the thresholds in kyc.passive do not describe.
MODELS = {
    "minifasnet_v2_2.7x.onnx": (
        2.7,
        "61652e007de53399b988488338c3e4c211efd98b5a79f37dadafd6ffed5fded4",
    ),
    "minifasnet_v1se_4.0x.onnx": (
        4.0,
        "c06089b3b085ca7313f0fc60e83e816d0d46e259e7464a3227cb45c875a0ae7a",
    ),
}
INPUT_SIZE = 80
REAL_CLASS = 1
DESCRIPTION = "MiniFASNetV2 2.7x + MiniFASNetV1SE 4.0x (Silent-Face-Anti-Spoofing, Apache-2.0)"

# Landmark box -> detector box (see the module docstring).
BOX_WIDTH = 0.96
BOX_HEIGHT = 1.28
BOX_RAISE = 0.16


@functools.cache
def _sessions() -> list[tuple[ort.InferenceSession, float]]:
    sessions = []
    for name, (scale, digest) in MODELS.items():
        path = MODEL_DIR / name
        if not path.is_file() or file_sha256(path) != digest:
            raise EngineUnavailable(f"{path} is missing or not the pinned file")
        options = ort.SessionOptions()
        # One call at a time per worker process: extra threads only contend.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        sessions.append((session, scale))
    return sessions


def check() -> None:
    """Load both networks now, so that a missing or altered file stops the
    service at startup instead of failing each liveness check (EngineUnavailable)."""
    _sessions()


def face_box(landmarks: np.ndarray[Any, Any]) -> tuple[float, float, float, float]:
    """x, y, width, height of the detector-style box around 68 landmarks."""
    left, top = landmarks.min(axis=0)
    right, bottom = landmarks.max(axis=0)
    width, height = right - left, bottom - top
    centre_x = (left + right) / 2
    centre_y = (top + bottom) / 2 - BOX_RAISE * height
    box_width, box_height = BOX_WIDTH * width, BOX_HEIGHT * height
    return (
        float(centre_x - box_width / 2),
        float(centre_y - box_height / 2),
        float(box_width),
        float(box_height),
    )


def crop(
    image_bgr: np.ndarray[Any, Any], box: tuple[float, float, float, float], scale: float
) -> np.ndarray[Any, Any]:
    """`scale` times the box, around its centre, moved (not cut) to stay inside the
    frame, resized to the networks' 80x80: as the networks were trained."""
    height, width = image_bgr.shape[:2]
    x, y, box_width, box_height = box
    scale = min((height - 1) / box_height, (width - 1) / box_width, scale)
    new_width, new_height = box_width * scale, box_height * scale
    centre_x, centre_y = x + box_width / 2, y + box_height / 2
    left = min(max(centre_x - new_width / 2, 0), width - 1 - new_width)
    top = min(max(centre_y - new_height / 2, 0), height - 1 - new_height)
    region = image_bgr[int(top) : int(top + new_height) + 1, int(left) : int(left + new_width) + 1]
    return cv2.resize(region, (INPUT_SIZE, INPUT_SIZE))


def real_probability(image_bgr: np.ndarray[Any, Any], landmarks: np.ndarray[Any, Any]) -> float:
    """The two networks' mean probability that the face at these landmarks is a
    live face in front of the camera (0: a print or a screen, 1: live)."""
    box = face_box(landmarks)
    total = 0.0
    sessions = _sessions()
    for session, scale in sessions:
        # Raw 0-255 BGR, channels first: the networks were trained without scaling.
        blob = crop(image_bgr, box, scale).astype(np.float32).transpose(2, 0, 1)[None]
        probabilities = session.run(None, {"bgr": blob})[0][0]
        total += float(probabilities[REAL_CLASS])
    return total / len(sessions)
