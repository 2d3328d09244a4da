"""Text lines from an image with PP-OCR models on ONNX Runtime (RapidOCR).

Lines are built from the recogniser's glyph boxes rather than the detector's
boxes alone: a hand-held photo is levelled, a box spanning two columns is cut at
the gap, and a box the detector stacked across rows is taken apart.

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


# Forms print labels letter-spaced (名　　称) and set columns side by side; the
# detector may join both into one box. A gap wider than this many glyph heights
# splits a box into separate lines, and the layout parser joins label pieces back.
COLUMN_GAP = 1.6
# Deskew only what a hand-held photo plausibly tilts; more is a sideways image,
# which kyc.rectify turns by right angles instead.
MAX_SKEW_DEGREES = 20.0
# A long line more than this off the photo's tilt is a watermark laid across it.
MAX_LINE_TILT = 12.0
SAME_TILT_DEGREES = 3.0


@dataclass(frozen=True, slots=True)
class _Glyph:
    text: str
    corners: np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class _Detection:
    corners: np.ndarray[Any, Any]
    text: str
    confidence: float
    glyphs: list[_Glyph]


def read_lines(image: np.ndarray[Any, Any]) -> list[OcrLine]:
    """Every text line the engine finds, in reading order (rows top to bottom,
    left to right within a row), in coordinates turned so the text runs level."""
    result, _elapsed = get_engine()(image, return_word_box=True, **DETECTION_OPTIONS)
    return reading_order(lines_from_detections(result or []))


def lines_from_detections(result: list[Any]) -> list[OcrLine]:
    """RapidOCR's detections (box, text, score and, when asked for, each glyph's
    box and text) as lines, levelled, cut at wide gaps and with stacked label
    glyphs taken apart. A long line running at a slant to the rest is a diagonal
    watermark (仅供办理贷款业务使用), not the document's text, and is left out."""
    detections = [_detection(item) for item in result]
    level = _level_angle(detections)
    cos, sin = np.cos(-level), np.sin(-level)
    turn = np.array([[cos, -sin], [sin, cos]])
    return [
        line
        for found in detections
        if (slant := _slant(found)) is None or abs(np.degrees(slant - level)) <= MAX_LINE_TILT
        for line in _split(
            found.corners @ turn.T,
            found.text,
            found.confidence,
            [(glyph.text, glyph.corners @ turn.T) for glyph in found.glyphs],
        )
    ]


def _detection(item: Any) -> _Detection:
    corners = np.asarray(item[0], dtype=np.float64)
    glyphs: list[_Glyph] = []
    if len(item) >= 5 and item[3]:
        glyphs = [
            _Glyph(str(text), np.asarray(box, dtype=np.float64))
            for box, text in zip(item[3], item[4], strict=False)
            if str(text).strip()
        ]
    return _Detection(corners, str(item[1]), float(item[2]), glyphs)


def _slant(found: _Detection) -> float | None:
    """The angle of a detection long enough for its angle to mean something."""
    top = found.corners[1] - found.corners[0]
    side = found.corners[3] - found.corners[0]
    if np.hypot(*top) <= 3 * np.hypot(*side):
        return None
    return float(np.arctan2(top[1], top[0]))


def _level_angle(detections: list[_Detection]) -> float:
    """The photo's tilt: the median angle of the largest group of long lines that
    run within a few degrees of each other (a watermark's lines form another)."""
    angles = [angle for found in detections if (angle := _slant(found)) is not None]
    if not angles:
        return 0.0
    near = float(np.radians(SAME_TILT_DEGREES))
    groups: list[list[float]] = [[a for a in angles if abs(a - angle) <= near] for angle in angles]
    largest = max(groups, key=len)
    angle = median(largest)
    return 0.0 if abs(np.degrees(angle)) > MAX_SKEW_DEGREES else angle


def _bounds(text: str, confidence: float, corners: np.ndarray[Any, Any]) -> OcrLine:
    (left, top), (right, bottom) = corners.min(axis=0), corners.max(axis=0)
    return OcrLine(text, confidence, float(left), float(top), float(right), float(bottom))


def _split(
    corners: np.ndarray[Any, Any],
    text: str,
    confidence: float,
    glyphs: list[tuple[str, np.ndarray[Any, Any]]],
) -> list[OcrLine]:
    """One detection as lines: whole, cut at wide gaps, or, when the detector
    stacked label characters from several rows into one tall box, one per glyph."""
    whole = _bounds(text, confidence, corners)
    if not glyphs:
        return [whole]
    boxes = [_bounds(glyph_text, confidence, box) for glyph_text, box in glyphs]
    if len(boxes) > 1 and whole.height > 1.5 * (whole.right - whole.left):
        return boxes
    size = median(box.height for box in boxes)
    runs: list[list[OcrLine]] = [[boxes[0]]]
    for box in boxes[1:]:
        if box.left - runs[-1][-1].right > COLUMN_GAP * size:
            runs.append([box])
        else:
            runs[-1].append(box)
    if len(runs) == 1:
        return [whole]
    return [
        OcrLine(
            "".join(box.text for box in run),
            confidence,
            min(box.left for box in run),
            min(box.top for box in run),
            max(box.right for box in run),
            max(box.bottom for box in run),
        )
        for run in runs
    ]


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Sort into rows, then by x within a row. A line joins a row when it overlaps
    the row's typical vertical span by half its height or the row's: labels and
    values on one row sit on slightly different baselines, and comparing centres
    alone splits a row whose first line sat high."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: item.center_y):
        if rows and _overlaps_row(line, rows[-1]):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.left)]


def _overlaps_row(line: OcrLine, row: list[OcrLine]) -> bool:
    top = median(item.top for item in row)
    bottom = median(item.bottom for item in row)
    overlap = min(bottom, line.bottom) - max(top, line.top)
    return overlap >= min(bottom - top, line.height) / 2
