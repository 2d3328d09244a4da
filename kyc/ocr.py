"""Text lines from an image with PP-OCR models on ONNX Runtime (RapidOCR).

The models ship inside the `rapidocr_onnxruntime` wheel; nothing is downloaded. One
engine per process, created on first use, because loading costs far more than a
read and the engine is not meant to be shared across threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from statistics import median
from typing import Any

import cv2
import numpy as np

from kyc.errors import UnreadableImage

# box_thresh: the detector's default (0.5) drops isolated single characters, and ID
# cards print 性别 and 民族 values as one glyph each. use_cls: the per-line
# upside-down classifier is off because kyc.rectify turns the whole document
# upright first, and an upside-down photo must read as garbage for that to work.
DETECTION_OPTIONS: dict[str, Any] = {"box_thresh": 0.3, "use_cls": False}

_engine: Any = None
_engine_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str
    confidence: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def center_y(self) -> float:
        return (self.top + self.bottom) / 2


def decode_image(data: bytes) -> np.ndarray[Any, Any]:
    """BGR pixels of an encoded image, or UnreadableImage."""
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        pixels = None
    if pixels is None:
        raise UnreadableImage("the file is not an image that can be read")
    return pixels


def get_engine() -> Any:
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
        return _engine


def read_lines(image: np.ndarray[Any, Any]) -> list[OcrLine]:
    """Every text line the engine finds, in reading order (rows top to bottom,
    left to right within a row)."""
    result, _elapsed = get_engine()(image, **DETECTION_OPTIONS)
    lines = []
    for box, text, confidence in result or []:
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        lines.append(OcrLine(str(text), float(confidence), min(xs), min(ys), max(xs), max(ys)))
    return reading_order(lines)


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Sort into rows (vertical centres within half a line height) then by x."""
    if not lines:
        return []
    tolerance = median(line.height for line in lines) / 2
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: item.center_y):
        if rows and abs(line.center_y - rows[-1][0].center_y) <= tolerance:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.left)]
