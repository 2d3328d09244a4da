"""Repayment schedules to the fen: equal instalment (等额本息) and equal principal (等额本金).

Amounts are integers in fen; every rounding is half-up to the fen, and the last
instalment takes whatever rounding left over, so principal always sums exactly to
the loan amount.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from loans.models import RepaymentMethod


@dataclass(frozen=True, slots=True)
class Instalment:
    number: int
    due: date
    payment_fen: int
    principal_fen: int
    interest_fen: int
    balance_fen: int  # outstanding principal after this payment


@dataclass(frozen=True, slots=True)
class Schedule:
    rows: tuple[Instalment, ...]

    @property
    def total_payment_fen(self) -> int:
        return sum(row.payment_fen for row in self.rows)

    @property
    def total_principal_fen(self) -> int:
        return sum(row.principal_fen for row in self.rows)

    @property
    def total_interest_fen(self) -> int:
        return sum(row.interest_fen for row in self.rows)


def _fen(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def add_months(start: date, months: int) -> date:
    """Same day of month `months` later, clamped to the month end (31 Jan + 1 -> 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def repayment_schedule(
    amount_fen: int,
    annual_rate_ppm: int,
    term_months: int,
    method: RepaymentMethod,
    start: date,
) -> Schedule:
    if amount_fen <= 0 or term_months <= 0 or annual_rate_ppm < 0:
        raise ValueError("amount and term must be positive, rate not negative")
    with localcontext() as ctx:
        ctx.prec = 50
        monthly = Decimal(annual_rate_ppm) / Decimal(1_000_000) / Decimal(12)
        level_payment = 0
        if method is RepaymentMethod.EQUAL_INSTALMENT:
            if monthly == 0:
                level_payment = _fen(Decimal(amount_fen) / term_months)
            else:
                growth = (1 + monthly) ** term_months
                level_payment = _fen(Decimal(amount_fen) * monthly * growth / (growth - 1))
        level_principal = _fen(Decimal(amount_fen) / term_months)
        balance = amount_fen
        rows: list[Instalment] = []
        for number in range(1, term_months + 1):
            interest = _fen(Decimal(balance) * monthly)
            if number == term_months:
                principal = balance
            elif method is RepaymentMethod.EQUAL_INSTALMENT:
                principal = min(level_payment - interest, balance)
            else:
                principal = min(level_principal, balance)
            balance -= principal
            rows.append(
                Instalment(
                    number=number,
                    due=add_months(start, number),
                    payment_fen=principal + interest,
                    principal_fen=principal,
                    interest_fen=interest,
                    balance_fen=balance,
                )
            )
    return Schedule(tuple(rows))
