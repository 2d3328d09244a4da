"""Normalising OCR'd values: dates to ISO 8601, numbers to their canonical form."""

from __future__ import annotations

import re
from datetime import date

LONG_TERM = "long-term"
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?")
_DOTTED_DATE = re.compile(r"(\d{4})[.\-/](\d{1,2})[.\-/](\d{1,2})")
# OCR confuses these letters with digits inside numbers.
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "|": "1"})


def _iso(year: str, month: str, day: str) -> str | None:
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def cn_date(text: str) -> str | None:
    """1995年7月17日 -> 1995-07-17."""
    match = _CN_DATE.search(text)
    return _iso(*match.groups()) if match else None


def any_date(text: str) -> str | None:
    match = _CN_DATE.search(text) or _DOTTED_DATE.search(text)
    return _iso(*match.groups()) if match else None


def period(text: str) -> tuple[str, str] | None:
    """2010.01.01-2020.12.12 or 2015年01月01日至长期 -> (from, until | "long-term")."""
    parts = re.split(r"[-—–~至]+", text, maxsplit=1)
    if len(parts) != 2:
        return None
    start = any_date(parts[0])
    if start is None:
        return None
    if "长期" in parts[1]:
        return start, LONG_TERM
    end = any_date(parts[1])
    return (start, end) if end else None


def id_number(text: str) -> str | None:
    cleaned = re.sub(r"\s+", "", text)
    cleaned = (cleaned[:17].translate(_DIGIT_LOOKALIKES) + cleaned[17:]).upper()
    return cleaned if re.fullmatch(r"\d{17}[\dX]", cleaned) else None


# GB 32100 leaves I, O, S, V and Z out of the credit code alphabet because they look
# like digits or other letters, so OCR reading one of them misread something else.
_CREDIT_CODE_LOOKALIKES = str.maketrans({"I": "1", "O": "0", "S": "5", "Z": "2", "V": "U"})


def credit_code(text: str) -> str | None:
    cleaned = re.sub(r"\s+", "", text).upper()
    match = re.search(r"[0-9A-Z]{18}", cleaned)
    return match.group().translate(_CREDIT_CODE_LOOKALIKES) if match else None
