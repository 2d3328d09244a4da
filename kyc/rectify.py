"""Putting a photographed document upright and flat before OCR.

Perspective: the largest convex four-cornered outline covering enough of the photo
is taken as the document and warped to a rectangle. Rotation: EXIF is honoured at
intake, but a card photographed sideways or upside down has no EXIF to say so; the
reader tries the four right-angle turns and keeps the one whose OCR lines hold the
most of the document's printed labels (the upright photo is tried first and usually
wins at once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from statistics import median
from typing import Any

import cv2
import numpy as np

from kyc.documents.layout import FormSpec
from kyc.ocr import OcrLine, read_lines

MIN_DOCUMENT_AREA = 0.2  # of the photo
# The photo must run on beyond the side that was read by this share of that
# side's height for the other side to be looked for there.
OTHER_SIDE_SHARE = 0.5
BAND_MARGIN = 2.0  # line heights around a side's labels
SIDE_GAP = 100.0  # px between two sides' lines, so that no row spans both
ROTATIONS = (None, cv2.ROTATE_180, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE)


def _order(corners: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Top-left, top-right, bottom-right, bottom-left."""
    sums = corners.sum(axis=1)
    diffs = np.diff(corners, axis=1).ravel()
    return np.array(
        [
            corners[np.argmin(sums)],
            corners[np.argmin(diffs)],
            corners[np.argmax(sums)],
            corners[np.argmax(diffs)],
        ],
        dtype=np.float32,
    )


def find_document(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """The document's four corners, or None when no outline stands out."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = 800 / max(gray.shape)
    small = cv2.resize(gray, None, fx=scale, fy=scale) if scale < 1 else gray
    factor = min(scale, 1.0)
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    _threshold, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    edges = cv2.dilate(cv2.Canny(blurred, 50, 150), np.ones((3, 3), np.uint8))
    frame_area = small.shape[0] * small.shape[1]
    min_area = MIN_DOCUMENT_AREA * frame_area
    found: list[tuple[float, np.ndarray[Any, Any]]] = []
    for candidate in (mask, edges):
        contours, _hierarchy = cv2.findContours(
            candidate, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        for contour in contours:
            hull = cv2.convexHull(contour)
            approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
            area = cv2.contourArea(approx)
            # The photo's own border is not a document outline.
            if len(approx) == 4 and min_area < area < 0.95 * frame_area:
                found.append((area, approx.reshape(4, 2).astype(np.float32) / factor))
    if not found:
        return None
    # Two documents in one photo (both sides of an ID card): keep the photo whole.
    centres = [quad.mean(axis=0) for _area, quad in found]
    spread = max(float(np.linalg.norm(c - centres[0])) for c in centres)
    if spread > 0.15 * max(image.shape[:2]):
        return None
    return _order(max(found, key=lambda item: item[0])[1])


def flatten(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The document warped to a rectangle, or the photo unchanged if no outline is
    found (including when the document already fills the photo)."""
    corners = find_document(image)
    if corners is None:
        return image
    top_left, top_right, bottom_right, bottom_left = corners
    width = int(
        max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left))
    )
    height = int(
        max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right))
    )
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(image, warp, (width, height))


def _labels_read(lines: list[OcrLine], spec: FormSpec) -> dict[str, list[OcrLine]]:
    """Each label read on a horizontal line, with the lines it was read on. A
    sideways photo still yields text (the recogniser turns tall boxes), but on
    tall lines."""
    pattern = spec.pattern()
    found: dict[str, list[OcrLine]] = {}
    for line in lines:
        if line.right - line.left >= line.height:
            for match in pattern.finditer("".join(line.text.split())):
                found.setdefault(match.group(), []).append(line)
    return found


def label_score(lines: list[OcrLine], spec: FormSpec) -> int:
    """How many of the document's labels were read on horizontal lines."""
    return len(_labels_read(lines, spec))


def upright_lines(
    image: np.ndarray[Any, Any],
    spec: FormSpec,
    *,
    enough: int = 3,
    reader: Callable[[np.ndarray[Any, Any]], list[OcrLine]] = read_lines,
) -> list[OcrLine]:
    """OCR lines of the flattened document in the turn that reads best. An outline
    can be a false one (a frame's corner, a block of print), so when the flattened
    document reads too few labels the whole photo is read too, turn by turn. For
    a two-sided document, a side the best turn did not read, when other text is
    there, is looked for in the other turns (both sides of a card scanned on one
    page, one upside down), and its lines follow the first side's."""
    flat = flatten(image)
    candidates = [flat] if flat is image else [flat, image]
    best: list[OcrLine] = []
    best_score, best_image, best_turn = -1, image, -1
    for turn, rotation in enumerate(ROTATIONS):
        for candidate in candidates:
            turned = candidate if rotation is None else cv2.rotate(candidate, rotation)
            lines = reader(turned)
            score = label_score(lines, spec)
            if score > best_score:
                best, best_score, best_image, best_turn = lines, score, candidate, turn
            if score >= enough:
                return _with_other_side(best, best_image, best_turn, spec, reader)
    return _with_other_side(best, best_image, best_turn, spec, reader)


def _with_other_side(
    lines: list[OcrLine],
    image: np.ndarray[Any, Any],
    turn: int,
    spec: FormSpec,
    reader: Callable[[np.ndarray[Any, Any]], list[OcrLine]],
) -> list[OcrLine]:
    """`lines` and, when they hold one side of a two-sided document and the photo
    runs on above or below it, the other side's lines read from there turned
    upside down (the recogniser returns nothing for upside-down text)."""
    if len(spec.sides) != 2 or turn < 0:
        return lines
    read = _labels_read(lines, spec)
    seen = [side for side in spec.sides if side & read.keys()]
    if len(seen) != 1:
        return lines
    rotation = ROTATIONS[turn]
    turned = image if rotation is None else cv2.rotate(image, rotation)
    top, bottom = _band([line for label in seen[0] & read.keys() for line in read[label]])
    above, below = turned[: max(int(top), 0)], turned[max(int(bottom), 0) :]
    rest, offset = (above, 0) if above.shape[0] > below.shape[0] else (below, int(bottom))
    if rest.shape[0] < OTHER_SIDE_SHARE * (bottom - top):
        return lines
    missing = next(side for side in spec.sides if side is not seen[0])
    found = reader(cv2.rotate(rest, cv2.ROTATE_180))
    if len(missing & _labels_read(found, spec).keys()) < 2:
        return lines
    shift = max(offset, max((line.bottom for line in lines), default=0.0)) + SIDE_GAP
    return lines + [
        replace(line, top=line.top + shift, bottom=line.bottom + shift) for line in found
    ]


def _band(label_lines: list[OcrLine]) -> tuple[float, float]:
    """The rows a side occupies: from its first label to its last, and a little
    beyond (values below their label, the card's title above)."""
    margin = BAND_MARGIN * median(line.height for line in label_lines)
    return (
        min(line.top for line in label_lines) - margin,
        max(line.bottom for line in label_lines) + margin,
    )
