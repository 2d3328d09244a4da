"""Label/value extraction from OCR lines of printed forms.

Chinese identity documents print a label (姓名, 住所, ...) and its value on the same
row, sometimes in two columns, sometimes with the value running onto following
rows. OCR may merge a label and its value into one line, merge two label/value
pairs, or split them. This module cuts every line at the labels it contains, then
gives each unlabelled piece to the field whose column and row it continues.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from kyc.fields import Field
from kyc.ocr import OcrLine

_LEADING_NOISE = ",.:;'\"|_-、。「」[]()"


@dataclass(frozen=True, slots=True)
class FormSpec:
    # label text (as printed, without spaces) -> field name; None marks text that
    # ends the field above it but is not itself a field (titles, footers).
    labels: dict[str, str | None]
    multiline: frozenset[str] = frozenset()

    def pattern(self) -> re.Pattern[str]:
        ordered = sorted(self.labels, key=len, reverse=True)
        return re.compile("|".join(re.escape(label) for label in ordered))


@dataclass
class _Piece:
    label: str | None
    text: str
    line: OcrLine


@dataclass
class _Open:
    name: str | None
    label_line: OcrLine
    multiline: bool
    parts: list[tuple[str, float]] = field(default_factory=list)
    last: OcrLine | None = None

    @property
    def column_left(self) -> float:
        return self.label_line.left


def _pieces(lines: list[OcrLine], pattern: re.Pattern[str]) -> list[_Piece]:
    pieces = []
    for line in lines:
        text = re.sub(r"\s+", "", line.text)
        cuts = list(pattern.finditer(text))
        if not cuts:
            pieces.append(_Piece(None, text, line))
            continue
        if cuts[0].start() > 0:
            pieces.append(_Piece(None, text[: cuts[0].start()], line))
        for i, cut in enumerate(cuts):
            end = cuts[i + 1].start() if i + 1 < len(cuts) else len(text)
            pieces.append(_Piece(cut.group(), text[cut.end() : end].lstrip(":："), line))
    return pieces


def _same_row(a: OcrLine, b: OcrLine) -> bool:
    return abs(a.center_y - b.center_y) <= max(a.height, b.height) / 2


def _continues(open_field: _Open, line: OcrLine) -> bool:
    """`line` sits just below the field's last line, in its column."""
    last = open_field.last or open_field.label_line
    height = max(last.height, line.height)
    gap = line.top - last.bottom
    return -height / 2 < gap < 1.5 * height and line.left >= open_field.column_left - height


def extract(lines: list[OcrLine], spec: FormSpec) -> dict[str, Field]:
    """Raw field texts (spaces removed) with the weakest confidence they rest on."""
    opened: list[_Open] = []
    done: list[_Open] = []
    for piece in _pieces(lines, spec.pattern()):
        if piece.label is not None:
            # A new label closes the field that held its column, and any single-line
            # field from an earlier row (it can take no more text).
            height = piece.line.height
            for other in list(opened):
                same_column = abs(other.column_left - piece.line.left) < 2 * height
                finished = bool(other.parts) and not other.multiline
                if same_column or (finished and not _same_row(other.label_line, piece.line)):
                    opened.remove(other)
                    done.append(other)
            name = spec.labels[piece.label]
            current = _Open(name, piece.line, name in spec.multiline)
            if piece.text:
                current.parts.append((piece.text, piece.line.confidence))
                current.last = piece.line
            opened.append(current)
            continue
        target = _owner(opened, piece.line)
        if target is not None:
            target.parts.append((piece.text, piece.line.confidence))
            target.last = piece.line
    done.extend(opened)
    fields: dict[str, Field] = {}
    for item in done:
        if item.name is None or not item.parts or item.name in fields:
            continue
        # NFKC folds the full-width forms OCR returns (（）, ０-９, Ａ-Ｚ) into one spelling.
        text = unicodedata.normalize("NFKC", "".join(text for text, _ in item.parts))
        # Stray marks OCR reads at a value's start (the label's colon, a border).
        text = text.lstrip(_LEADING_NOISE)
        if not text:
            continue
        fields[item.name] = Field(text, min(conf for _, conf in item.parts))
    return fields


def _owner(opened: list[_Open], line: OcrLine) -> _Open | None:
    """The open field an unlabelled line belongs to: among the fields whose row it
    shares or whose column it continues, the one whose column starts nearest to
    its left."""
    candidates = [
        f
        for f in opened
        if f.column_left <= line.left + line.height
        and (
            (_same_row(f.last or f.label_line, line) and f.label_line.left <= line.left)
            or ((f.multiline or not f.parts) and _continues(f, line))
        )
    ]
    return max(candidates, key=lambda f: f.column_left, default=None)
