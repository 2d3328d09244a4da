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
    if match:
        return _iso(*match.groups())
    spelled = _NUMERAL_DATE.search(text)
    if spelled is None:
        return None
    year, month, day = spelled.groups()
    return _iso(year.translate(_NUMERAL_DIGITS), str(_numeral(month)), str(_numeral(day)))


# Older licences spell dates in Chinese numerals: 二〇一〇年六月七日, 二〇〇八年十二月三十一日.
# OCR returns 〇 as a circle, a capital O or a zero.
_NUMERAL_DIGITS = str.maketrans("〇零○OＯ0一二三四五六七八九", "000000123456789")
_NUMERAL = "〇零○OＯ0一二三四五六七八九十"
_NUMERAL_DATE = re.compile(f"([{_NUMERAL}]{{4}})年([{_NUMERAL}]{{1,3}})月([{_NUMERAL}]{{1,3}})日")


def _numeral(text: str) -> int:
    """一 -> 1, 十 -> 10, 十二 -> 12, 二十 -> 20, 三十一 -> 31."""
    if "十" not in text:
        return int(text.translate(_NUMERAL_DIGITS))
    tens, _ten, units = text.partition("十")
    return int(tens.translate(_NUMERAL_DIGITS) or 1) * 10 + int(
        units.translate(_NUMERAL_DIGITS) or 0
    )


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


def registration_number(text: str) -> str | None:
    """The 15-digit registration number (注册号) of a pre-2016 licence."""
    cleaned = re.sub(r"\s+", "", text).translate(_DIGIT_LOOKALIKES)
    match = re.search(r"(?<![0-9])[0-9]{15}(?![0-9])", cleaned)
    return match.group() if match else None


def credit_code(text: str) -> str | None:
    cleaned = re.sub(r"\s+", "", text).upper()
    match = re.search(r"[0-9A-Z]{18}", cleaned)
    return match.group().translate(_CREDIT_CODE_LOOKALIKES) if match else None
