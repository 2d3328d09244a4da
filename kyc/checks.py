"""Field checks on read documents, each reported separately with a message a
manager can act on. Identity numbers never appear in messages."""

from __future__ import annotations

import unicodedata
from datetime import date

from kyc import idnumber
from kyc.documents.normalise import LONG_TERM
from kyc.fields import Check, Field, Fields
from loans.identifiers import credit_code_reason


def _same_text(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return (
            "".join(unicodedata.normalize("NFKC", text).split())
            .replace("（", "(")
            .replace("）", ")")
        )

    return norm(a) == norm(b)


def id_card_checks(fields: Fields, *, today: date, expected_name: str | None = None) -> list[Check]:
    """GB 11643 check character; birth date and sex agree with the number; the card
    has not expired; the name is the application's legal representative. Checks
    about a side that is not in the image are left out."""
    checks: list[Check] = []
    number = fields.get("id_number")
    front_read = any(name in fields for name in ("name", "sex", "birth_date", "address"))
    if number is None:
        if front_read:
            checks.append(Check.of("id_number_present", False, "id_number_missing"))
    else:
        problem = idnumber.problem_reason(number.value, today=today)
        checks.append(
            Check.of(
                "id_number_valid", problem is None, problem or "id_number_check_character_matches"
            )
        )
        if problem is None and "birth_date" in fields:
            encoded = idnumber.birth_date(number.value)
            printed = fields["birth_date"].value
            same = encoded is not None and encoded.isoformat() == printed
            checks.append(
                Check.of("birth_date_matches_id_number", True, "birth_date_matches")
                if same
                else Check.of(
                    "birth_date_matches_id_number", False, "birth_date_differs", printed=printed
                )
            )
        if problem is None and "sex" in fields:
            encoded_sex = idnumber.sex(number.value)
            printed_sex = fields["sex"].value
            checks.append(
                Check.of("sex_matches_id_number", True, "sex_matches")
                if encoded_sex == printed_sex
                else Check.of(
                    "sex_matches_id_number",
                    False,
                    "sex_differs",
                    printed=printed_sex,
                    encoded=encoded_sex,
                )
            )
    if "valid_until" in fields:
        until = fields["valid_until"].value
        valid = until == LONG_TERM or date.fromisoformat(until) >= today
        checks.append(
            Check.of("id_card_not_expired", True, "card_valid")
            if valid
            else Check.of("id_card_not_expired", False, "card_expired", until=until)
        )
    if expected_name is not None and front_read:
        checks.append(
            _matches(fields.get("name"), expected_name, "name_matches_application", "name")
        )
    return checks


def _matches(read: Field | None, expected: str, check_name: str, reason: str) -> Check:
    """`reason`_matches when the read value is the application's, else _differs
    naming both (an unread value shows as "(unread)")."""
    if read is not None and _same_text(read.value, expected):
        return Check.of(check_name, True, f"{reason}_matches")
    shown = read.value if read is not None else "(unread)"
    return Check.of(check_name, False, f"{reason}_differs", read=shown, expected=expected)


def licence_checks(
    fields: Fields,
    *,
    expected_company: str | None = None,
    expected_credit_code: str | None = None,
    expected_legal_representative: str | None = None,
) -> list[Check]:
    """GB 32100 check character; company, code and legal representative agree with
    the application."""
    checks: list[Check] = []
    code = fields.get("credit_code")
    if code is None and "registration_number" in fields:
        # Licences with a 15-digit 注册号 were replaced by credit-code licences by
        # the end of 2017; one still in use has been superseded.
        checks.append(Check.of("credit_code_present", False, "licence_registration_number_only"))
    elif code is None:
        checks.append(Check.of("credit_code_present", False, "credit_code_missing"))
    else:
        found = credit_code_reason(code.value)
        checks.append(
            Check.of("credit_code_valid", False, found[0], **found[1])
            if found
            else Check.of("credit_code_valid", True, "credit_code_check_character_matches")
        )
    expectations = (
        ("company_name", expected_company, "company_matches_application"),
        ("credit_code", expected_credit_code, "credit_code_matches_application"),
        (
            "legal_representative",
            expected_legal_representative,
            "legal_representative_matches_application",
        ),
    )
    for field_name, expected, check_name in expectations:
        if expected is not None:
            checks.append(_matches(fields.get(field_name), expected, check_name, field_name))
    return checks
