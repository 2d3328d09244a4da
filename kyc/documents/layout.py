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

# How far right of a field's text, in line heights, a line on its row may start
# and still be its value: labels sit a few glyphs from their values.
SAME_ROW_REACH = 8
# How far right of a column's edge, in glyphs, a spaced label's last glyph may stand.
LABEL_WIDTH = 6
# A value found by its pattern alone, outside any label's reach, is less certain
# than one read beside its label.
UNPLACED_CONFIDENCE_FACTOR = 0.8
_LEADING_NOISE = ",.:;'\"|_-、。「」[]()"


@dataclass(frozen=True, slots=True)
class FormSpec:
    # label text (as printed, without spaces) -> field name; None marks text that
    # ends the field above it but is not itself a field (titles, footers).
    labels: dict[str, str | None]
    multiline: frozenset[str] = frozenset()
    # For a document with two printed sides, the labels of each: a scan of both
    # may show one side upside down, and each is then read in its own turn.
    sides: tuple[frozenset[str], ...] = ()

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
    label: str
    label_line: OcrLine
    multiline: bool
    parts: list[tuple[str, float]] = field(default_factory=list)
    last: OcrLine | None = None

    @property
    def column_left(self) -> float:
        return self.label_line.left


def _join_spaced_labels(lines: list[OcrLine], labels: list[str]) -> list[OcrLine]:
    """Forms print short labels letter-spaced (名　　称, 住　　所), and OCR returns
    each spaced character as its own line: join a line that is the start of a
    label to the next one on its row when together they spell more of it."""
    joined: list[OcrLine] = []
    for line in lines:
        if (
            joined
            and _same_row(joined[-1], line)
            and _spells_more(joined[-1].text, line.text, labels)
        ):
            last = joined.pop()
            line = OcrLine(
                last.text + line.text,
                min(last.confidence, line.confidence),
                min(last.left, line.left),
                min(last.top, line.top),
                max(last.right, line.right),
                max(last.bottom, line.bottom),
            )
        joined.append(line)
    return joined


def _spells_more(head: str, tail: str, labels: list[str]) -> bool:
    head, tail = re.sub(r"\s+", "", head), re.sub(r"\s+", "", tail)
    for label in labels:
        # The head may end in a value from the row's left column (its label piece
        # is what matters), so only its last characters need to start the label.
        for size in range(1, len(label)):
            if head.endswith(label[:size]) and tail.startswith(label[size]):
                return True
    return False


def _misread_label(text: str, line: OcrLine, missing: list[str], columns: list[float]) -> str:
    """`text` with its start spelled as the label OCR misread there (住址 read as
    佳址, 经营范围 as 经营范国, 法定代表人 without its first glyph, a spaced label
    with one glyph lost): only labels the document shows nowhere else, only at
    the left edge of a column where labels were found."""
    # One glyph alone where a letter-spaced label stands, its other glyph lost
    # (under a stamp or a watermark): 名 for 名称, 所 for 住所. A spaced label
    # spans the label column, so its second glyph stands right of the column's edge.
    if len(text) == 1:
        if any(-line.height < line.left - column < LABEL_WIDTH * line.height for column in columns):
            return next((label for label in missing if len(label) == 2 and text in label), text)
        return text
    if not any(abs(line.left - column) < 2 * line.height for column in columns):
        return text
    for label in missing:
        head = text[: len(label)]
        if len(head) < len(label) or len(label) < 2:
            continue
        wrong = [i for i, (a, b) in enumerate(zip(head, label, strict=True)) if a != b]
        # Two-glyph labels only where the first glyph is the one misread: their
        # second (址, 称, 所) is what tells them from ordinary text.
        if len(wrong) == 1 and (len(label) > 2 or wrong == [0]):
            return label + text[len(label) :]
        if len(label) >= 4 and text.startswith(label[1:]):
            return label + text[len(label) - 1 :]
    return text


def _pieces(lines: list[OcrLine], spec: FormSpec) -> list[_Piece]:
    pattern = spec.pattern()
    joined = _join_spaced_labels(lines, list(spec.labels))
    texts = [re.sub(r"\s+", "", line.text) for line in joined]
    found = {match.group() for text in texts for match in pattern.finditer(text)}
    missing = sorted((label for label in spec.labels if label not in found), key=len, reverse=True)
    columns = [line.left for line, text in zip(joined, texts, strict=True) if pattern.match(text)]
    pieces = []
    for line, text in zip(joined, texts, strict=True):
        if not pattern.match(text):
            text = _misread_label(text, line, missing, columns)
            # A label is printed once: a second misread of it is ordinary text.
            if (used := pattern.match(text)) is not None and used.group() in missing:
                missing.remove(used.group())
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


def _within_reach(open_field: _Open, line: OcrLine) -> bool:
    """`line` follows the field's last text on its row, not text far across the
    page (the QR code's caption beside the credit code)."""
    last = open_field.last or open_field.label_line
    return (
        open_field.label_line.left <= line.left
        and line.left - last.right < SAME_ROW_REACH * max(last.height, line.height)
    )


def _continues(open_field: _Open, line: OcrLine) -> bool:
    """`line` sits just below the field's last line, in its column."""
    last = open_field.last or open_field.label_line
    # The smaller height: a title's large print must not reach far down the page.
    height = min(last.height, line.height)
    gap = line.top - last.bottom
    # It must also start before the text above it ends: text beginning further
    # right is another column's, or another paper's in the photo.
    return (
        -height / 2 < gap < 1.5 * height
        and open_field.column_left - height <= line.left < last.right
    )


def extract(lines: list[OcrLine], spec: FormSpec) -> dict[str, Field]:
    """Raw field texts (spaces removed) with the weakest confidence they rest on."""
    opened: list[_Open] = []
    done: list[_Open] = []
    for piece in _pieces(lines, spec):
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
            current = _Open(name, piece.label, piece.line, name in spec.multiline)
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
        fields[item.name] = Field(text, min(conf for _, conf in item.parts), label=item.label)
    return fields


def _owner(opened: list[_Open], line: OcrLine) -> _Open | None:
    """The open field an unlabelled line belongs to: among the fields whose row it
    shares or whose column it continues, the one whose column starts nearest to
    its left. Text on a label's own row is that label's value, even where a
    multi-line field above (a long address) could run on into it."""
    reachable = [f for f in opened if f.column_left <= line.left + line.height]
    beside = [
        f for f in reachable if _same_row(f.last or f.label_line, line) and _within_reach(f, line)
    ]
    below = [f for f in reachable if (f.multiline or not f.parts) and _continues(f, line)]
    on_label_row = [f for f in beside if _same_row(f.label_line, line)]
    return max(on_label_row or beside + below, key=lambda f: f.column_left, default=None)
