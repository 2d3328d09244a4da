"""One-time signing codes: issued, rate-limited and consumed on the contract's row.

Only an HMAC of the code is stored. Each new code resets the tries; the number
of codes per hour bounds the guesses as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from signing.actions import ContractAction
from signing.contracts import OPEN, Contract, update_contract
from signing.errors import CodeRejected, TooManyCodes
from store.schema import contracts

OTP_DIGITS = 6
OTP_MAX_ATTEMPTS = 5
# Each new code resets the tries, so the number of codes bounds the guesses too:
# at most this many codes per contract in OTP_ISSUE_WINDOW.
OTP_MAX_ISSUES = 5
OTP_ISSUE_WINDOW = timedelta(hours=1)
# Why a code was refused (CodeRejected's `reason`), as the audit log words it.
CODE_PROBLEMS = {
    "no_code": "request a code first",
    "expired": "the code has expired; request a new one",
    "too_many_tries": "too many wrong codes; request a new one",
    "wrong": "the code is not correct",
}


def _code_digest(contract_id: str, code: str) -> str:
    return hmac.new(contract_id.encode(), code.encode(), hashlib.sha256).hexdigest()


async def issue_code(
    engine: AsyncEngine,
    actor: audit.Actor,
    contract: Contract,
    valid_for: timedelta,
    *,
    request_id: str | None = None,
) -> str:
    """A fresh one-time code (the previous one stops working); only its digest is stored."""
    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        sent = await audit.count_since(
            conn, contract.application_id, ContractAction.CODE_SENT, now - OTP_ISSUE_WINDOW
        )
        if sent >= OTP_MAX_ISSUES:
            raise TooManyCodes(
                f"{OTP_MAX_ISSUES} codes were sent in the last hour; try again later",
                limit=OTP_MAX_ISSUES,
            )
        await update_contract(
            conn,
            contract,
            OPEN,
            otp_hash=_code_digest(contract.id, code),
            otp_expires_at=now + valid_for,
            otp_attempts=0,
        )
        await audit.append(
            conn,
            actor,
            ContractAction.CODE_SENT,
            application_id=contract.application_id,
            request_id=request_id,
            details={"contract_id": contract.id, "expires_at": (now + valid_for).isoformat()},
            at=now,
        )
    return code


async def consume_code(
    engine: AsyncEngine,
    actor: audit.Actor,
    contract: Contract,
    code: str,
    *,
    request_id: str | None = None,
) -> None:
    """Accept the code once; a wrong, expired or over-tried code is refused and audited."""
    async with engine.begin() as conn:
        row = (
            (await conn.execute(select(contracts).where(contracts.c.id == contract.id)))
            .mappings()
            .one()
        )
        now = datetime.now(UTC)
        reason = None
        if row["otp_hash"] is None:
            reason = "no_code"
        elif row["otp_expires_at"] <= now:
            reason = "expired"
        elif row["otp_attempts"] >= OTP_MAX_ATTEMPTS:
            reason = "too_many_tries"
        elif not hmac.compare_digest(row["otp_hash"], _code_digest(contract.id, code)):
            reason = "wrong"
        if reason is None:
            await update_contract(conn, contract, OPEN, otp_hash=None, otp_expires_at=None)
            await audit.append(
                conn,
                actor,
                ContractAction.CODE_ACCEPTED,
                application_id=contract.application_id,
                request_id=request_id,
                details={"contract_id": contract.id},
            )
            return
        if row["otp_hash"] is not None:
            await conn.execute(
                contracts.update()
                .where(contracts.c.id == contract.id)
                .values(otp_attempts=row["otp_attempts"] + 1)
            )
        await audit.append(
            conn,
            actor,
            ContractAction.CODE_REJECTED,
            application_id=contract.application_id,
            request_id=request_id,
            details={"contract_id": contract.id, "reason": CODE_PROBLEMS[reason]},
        )
    raise CodeRejected(CODE_PROBLEMS[reason], reason=reason)
