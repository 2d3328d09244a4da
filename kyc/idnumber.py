"""PRC resident identity numbers (GB 11643-1999): 6-digit region, 8-digit birth date,
3-digit sequence whose last digit is odd for men and even for women, and an
ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import re
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")


def check_character(first17: str) -> str:
    """The 18th character for the first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def birth_date(number: str) -> date | None:
    """The birth date the number encodes, or None if it is not a calendar date."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def sex(number: str) -> str:
    """男 (odd 17th digit) or 女 (even)."""
    return "男" if int(number[16]) % 2 else "女"


# Why an identity number is invalid: a machine-readable reason and its English text
# (pages translate the reason; web/locale, check_reason_<reason>).
ID_NUMBER_PROBLEMS = {
    "id_number_shape": "must be 17 digits followed by a digit or X",
    "id_number_birth_date_not_a_date": "the birth date part is not a calendar date",
    "id_number_birth_date_out_of_range": "the birth date part is out of range",
    "id_number_check_character": "check character does not match (GB 11643)",
}


def problem_reason(number: str, *, today: date | None = None) -> str | None:
    """The reason `number` cannot be a valid resident identity number, or None."""
    if not _SHAPE.fullmatch(number):
        return "id_number_shape"
    born = birth_date(number)
    if born is None:
        return "id_number_birth_date_not_a_date"
    if born.year < 1900 or (today is not None and born > today):
        return "id_number_birth_date_out_of_range"
    if number[17] != check_character(number[:17]):
        return "id_number_check_character"
    return None


def problem(number: str, *, today: date | None = None) -> str | None:
    """Why `number` cannot be a valid resident identity number, or None."""
    reason = problem_reason(number, today=today)
    return None if reason is None else ID_NUMBER_PROBLEMS[reason]


def mask(number: str) -> str:
    """5137**********6346: the region's first four and the last four digits."""
    if len(number) != 18:
        return "*" * len(number)
    return number[:4] + "*" * 10 + number[-4:]
