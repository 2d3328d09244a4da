"""Reading a photographed document: decode, flatten and turn upright, OCR, parse,
check.

CPU-bound (about a second per image on one core): call it from a worker process or
thread, never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from kyc.checks import id_card_checks, licence_checks
from kyc.documents.id_card import ID_CARD, parse_id_card
from kyc.documents.licence import LICENCE, parse_licence
from kyc.fields import Check, Fields
from kyc.ocr import decode_image
from kyc.rectify import upright_lines


@dataclass(frozen=True, slots=True)
class DocumentReading:
    fields: Fields
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "fields": {name: field.as_json() for name, field in self.fields.items()},
            "checks": [check.as_json() for check in self.checks],
        }


def read_id_card(image: bytes, *, today: date, expected_name: str | None = None) -> DocumentReading:
    """Front, back, or both sides in one image."""
    fields = parse_id_card(upright_lines(decode_image(image), ID_CARD))
    return DocumentReading(fields, id_card_checks(fields, today=today, expected_name=expected_name))


def read_licence(
    image: bytes,
    *,
    expected_company: str | None = None,
    expected_credit_code: str | None = None,
    expected_legal_representative: str | None = None,
) -> DocumentReading:
    fields = parse_licence(upright_lines(decode_image(image), LICENCE))
    return DocumentReading(
        fields,
        licence_checks(
            fields,
            expected_company=expected_company,
            expected_credit_code=expected_credit_code,
            expected_legal_representative=expected_legal_representative,
        ),
    )
