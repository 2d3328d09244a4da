"""Loan applications as values: validated input and stored records."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import RowMapping

from audit.chain import canonical_json
from loans.errors import InvalidApplication
from loans.identifiers import credit_code_problem, mask_phone, mobile_problem
from loans.states import State
from store.rows import record_from_row

MAX_AMOUNT_FEN = 100_000_000 * 100  # 100 million yuan
MAX_TERM_MONTHS = 360
# 24 % a year: the upper bound Chinese courts protect for private lending.
MAX_RATE_PPM = 240_000


class RepaymentMethod(StrEnum):
    EQUAL_INSTALMENT = "equal_instalment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金


def _clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    return " ".join(value.split())


def _has_control(value: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in value)


def _decimal(value: str, places: int) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        return None
    return number


@dataclass(frozen=True, slots=True)
class ApplicationInput:
    company_name: str
    credit_code: str
    legal_rep_name: str
    legal_rep_phone: str
    amount_fen: int
    term_months: int
    annual_rate_ppm: int
    repayment_method: RepaymentMethod

    @classmethod
    def parse(
        cls,
        *,
        company_name: str,
        credit_code: str,
        legal_rep_name: str,
        legal_rep_phone: str,
        loan_amount: str,
        term_months: int,
        annual_rate_percent: str,
        repayment_method: str,
    ) -> ApplicationInput:
        """Validate raw input; InvalidApplication names every bad field."""
        errors: dict[str, str] = {}
        company = _clean_text(company_name)
        if not 2 <= len(company) <= 100 or _has_control(company):
            errors["company_name"] = "must be 2 to 100 printable characters"
        code = credit_code.strip().upper()
        if problem := credit_code_problem(code):
            errors["credit_code"] = problem
        rep = _clean_text(legal_rep_name)
        if not 2 <= len(rep) <= 30 or _has_control(rep):
            errors["legal_rep_name"] = "must be 2 to 30 printable characters"
        phone = legal_rep_phone.strip()
        if problem := mobile_problem(phone):
            errors["legal_rep_phone"] = problem
        amount = _decimal(loan_amount, 2)
        amount_fen = 0
        if amount is None:
            errors["loan_amount"] = "must be an amount in yuan with at most 2 decimals"
        else:
            amount_fen = int(amount * 100)
            if not 0 < amount_fen <= MAX_AMOUNT_FEN:
                errors["loan_amount"] = "must be more than 0 and at most 100,000,000 yuan"
        if not 1 <= term_months <= MAX_TERM_MONTHS:
            errors["term_months"] = f"must be 1 to {MAX_TERM_MONTHS} months"
        rate = _decimal(annual_rate_percent, 4)
        rate_ppm = 0
        if rate is None:
            errors["annual_rate_percent"] = "must be a percentage with at most 4 decimals"
        else:
            rate_ppm = int(rate * 10_000)
            if not 0 < rate_ppm <= MAX_RATE_PPM:
                errors["annual_rate_percent"] = "must be more than 0 and at most 24 %"
        try:
            method = RepaymentMethod(repayment_method)
        except ValueError:
            method = RepaymentMethod.EQUAL_INSTALMENT
            errors["repayment_method"] = "must be equal_instalment or equal_principal"
        if errors:
            raise InvalidApplication.for_fields(errors)
        return cls(company, code, rep, phone, amount_fen, term_months, rate_ppm, method)


def format_fen(amount_fen: int) -> str:
    return f"{Decimal(amount_fen) / 100:.2f}"


def format_rate(rate_ppm: int) -> str:
    return f"{Decimal(rate_ppm) / 10_000:.4f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    company_name: str
    credit_code: str
    legal_rep_name: str
    legal_rep_phone: str
    amount_fen: int
    term_months: int
    annual_rate_ppm: int
    repayment_method: RepaymentMethod
    manager_id: int
    state: State
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Application:
        return record_from_row(
            cls,
            row,
            repayment_method=RepaymentMethod(row["repayment_method"]),
            state=State(row["state"]),
        )

    @property
    def loan_amount(self) -> str:
        return format_fen(self.amount_fen)

    @property
    def annual_rate_percent(self) -> str:
        return format_rate(self.annual_rate_ppm)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.legal_rep_phone)


def terms_digest(data: ApplicationInput) -> str:
    """SHA-256 of the application's canonical terms: the audit log records this
    instead of the personal data itself."""
    fields = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(data).items()}
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()
