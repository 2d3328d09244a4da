"""Format and check-character validation of Chinese identifiers used in applications."""

from __future__ import annotations

import re

# GB 32100-2015: the unified social credit code alphabet omits I, O, S, V and Z.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def credit_code_check_character(first17: str) -> str:
    """The 18th character of a unified social credit code (GB 32100-2015, MOD 31)."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(ch) * weight
        for ch, weight in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


# Why a credit code is invalid: a machine-readable reason and its English text
# (pages translate the reason; web/locale, check_reason_<reason>).
CREDIT_CODE_PROBLEMS = {
    "credit_code_length": "must be 18 characters",
    "credit_code_characters": "contains characters not allowed in a credit code: {characters}",
    "credit_code_check_character": "check character does not match (GB 32100)",
}


def credit_code_reason(code: str) -> tuple[str, dict[str, str]] | None:
    """The reason `code` is not a valid unified social credit code with its values,
    or None if it is."""
    if len(code) != 18:
        return "credit_code_length", {}
    bad = sorted({ch for ch in code if ch not in CREDIT_CODE_ALPHABET})
    if bad:
        return "credit_code_characters", {"characters": "".join(bad)}
    expected = credit_code_check_character(code[:17])
    if code[17] != expected:
        return "credit_code_check_character", {}
    return None


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid unified social credit code, or None if it is."""
    found = credit_code_reason(code)
    return None if found is None else CREDIT_CODE_PROBLEMS[found[0]].format(**found[1])


def registration_number_problem(number: str) -> str | None:
    """Why `number` is not a valid 15-digit business registration number (注册号,
    the identifier of licences issued before the unified credit code; its last
    digit is an ISO 7064 MOD 11,10 check digit), or None if it is."""
    if not re.fullmatch(r"[0-9]{15}", number):
        return "must be 15 digits"
    product = 10
    for digit in number[:14]:
        product = (2 * ((int(digit) + product) % 10 or 10)) % 11
    if (11 - product) % 10 != int(number[14]):
        return "check digit does not match (ISO 7064 MOD 11,10)"
    return None


def mobile_problem(phone: str) -> str | None:
    """Why `phone` is not a mainland China mobile number, or None if it is."""
    if not _MOBILE.fullmatch(phone):
        return "must be an 11-digit mainland mobile number starting with 1"
    return None


def mask_phone(phone: str) -> str:
    """138****5678: enough to recognise, not enough to call."""
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "***"
