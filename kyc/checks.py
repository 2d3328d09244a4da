"""Field checks on read documents, each reported separately with a message a
manager can act on. Identity numbers never appear in messages."""

from __future__ import annotations

import unicodedata
from datetime import date

from kyc import idnumber
from kyc.documents.normalise import LONG_TERM
from kyc.fields import Check, Fields
from loans.identifiers import credit_code_problem


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
            checks.append(Check("id_number_present", False, "no ID number could be read"))
    else:
        problem = idnumber.problem(number.value, today=today)
        checks.append(
            Check("id_number_valid", problem is None, problem or "check character matches")
        )
        if problem is None and "birth_date" in fields:
            encoded = idnumber.birth_date(number.value)
            printed = fields["birth_date"].value
            same = encoded is not None and encoded.isoformat() == printed
            checks.append(
                Check(
                    "birth_date_matches_id_number",
                    same,
                    "birth date agrees with the ID number"
                    if same
                    else f"printed birth date {printed} differs from the one in the ID number",
                )
            )
        if problem is None and "sex" in fields:
            encoded_sex = idnumber.sex(number.value)
            same = encoded_sex == fields["sex"].value
            checks.append(
                Check(
                    "sex_matches_id_number",
                    same,
                    "sex agrees with the ID number"
                    if same
                    else f"printed sex {fields['sex'].value} but the ID number says {encoded_sex}",
                )
            )
    if "valid_until" in fields:
        until = fields["valid_until"].value
        valid = until == LONG_TERM or date.fromisoformat(until) >= today
        checks.append(
            Check(
                "id_card_not_expired",
                valid,
                "the card is valid" if valid else f"the card expired on {until}",
            )
        )
    if expected_name is not None and front_read:
        read = fields.get("name")
        same = read is not None and _same_text(read.value, expected_name)
        checks.append(
            Check(
                "name_matches_application",
                same,
                "name matches the legal representative in the application"
                if same
                else f"the card's name {read.value if read else '(unread)'} is not the "
                f"legal representative {expected_name}",
            )
        )
    return checks


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
        checks.append(
            Check(
                "credit_code_present",
                False,
                "the licence shows a registration number (注册号), not a unified social "
                "credit code: an old licence replaced since 2017; ask for the current one",
            )
        )
    elif code is None:
        checks.append(Check("credit_code_present", False, "no credit code could be read"))
    else:
        problem = credit_code_problem(code.value)
        checks.append(
            Check("credit_code_valid", problem is None, problem or "check character matches")
        )
    expectations = (
        ("company_name", expected_company, "company_matches_application", "company name"),
        ("credit_code", expected_credit_code, "credit_code_matches_application", "credit code"),
        (
            "legal_representative",
            expected_legal_representative,
            "legal_representative_matches_application",
            "legal representative",
        ),
    )
    for field_name, expected, check_name, words in expectations:
        if expected is None:
            continue
        read = fields.get(field_name)
        same = read is not None and _same_text(read.value, expected)
        checks.append(
            Check(
                check_name,
                same,
                f"{words} matches the application"
                if same
                else f"the licence's {words} {read.value if read else '(unread)'} is not "
                f"{expected} as in the application",
            )
        )
    return checks
