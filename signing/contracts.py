"""Contracts pushed to an applicant, and the signing steps recorded on them.

Every change appends its audit entry in the same transaction. Status changes are
conditional on the status (and signing step) they start from, so two requests
racing on one contract cannot both move it: the loser gets ContractConflict.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from signing.actions import ContractAction
from signing.contract.render import RenderedContract
from signing.errors import ContractConflict, SigningError
from store.rows import newest_row, record_from_row
from store.schema import contracts


class ContractStatus(StrEnum):
    PUSHED = "pushed"  # shown to the applicant, not signed
    FAILED = "failed"  # a signing step failed; retryable, nothing shown as signed
    SIGNED = "signed"
    SUPERSEDED = "superseded"  # a newer contract was pushed


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    application_id: str
    contract_number: str
    template_version: int
    pdf_sha256: str
    page_count: int
    status: ContractStatus
    pushed_by: str
    pushed_at: datetime
    pages_read: list[int]
    otp_expires_at: datetime | None
    otp_attempts: int
    partial_sha256: str | None
    partial_step: str | None
    signed_sha256: str | None
    signed_at: datetime | None
    last_error: str | None

    @property
    def all_pages_read(self) -> bool:
        return set(self.pages_read) >= set(range(1, self.page_count + 1))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contract_number": self.contract_number,
            "template_version": self.template_version,
            "pdf_sha256": self.pdf_sha256,
            "page_count": self.page_count,
            "status": self.status.value,
            "pushed_at": self.pushed_at.isoformat(timespec="seconds"),
            "pages_read": self.pages_read,
            "code_sent": self.otp_expires_at is not None,
            "progress": self.partial_step,
            "signed_sha256": self.signed_sha256,
            "signed_at": self.signed_at.isoformat(timespec="seconds") if self.signed_at else None,
            "last_error": self.last_error,
        }


def _contract(row: RowMapping) -> Contract:
    return record_from_row(
        Contract,
        row,
        status=ContractStatus(row["status"]),
        pages_read=json.loads(row["pages_read"]),
    )


def new_contract_number(now: datetime) -> str:
    return f"HT{now:%Y%m%d}{secrets.randbelow(10**8):08d}"


async def push_contract(
    engine: AsyncEngine,
    actor: audit.Actor,
    application_id: str,
    contract_number: str,
    rendered: RenderedContract,
    *,
    evidence_sha256: str | None = None,
    request_id: str | None = None,
) -> Contract:
    """Store a freshly rendered contract for signing; an unsigned earlier one is superseded.

    `evidence_sha256` names the interview manifest the contract's text binds."""
    now = datetime.now(UTC)
    contract_id = str(uuid.uuid4())
    async with engine.begin() as conn:
        signed = (
            await conn.execute(
                select(func.count())
                .select_from(contracts)
                .where(
                    contracts.c.application_id == application_id,
                    contracts.c.status == ContractStatus.SIGNED.value,
                )
            )
        ).scalar_one()
        if signed:
            raise ContractConflict("this application's contract is already signed")
        superseded = await conn.execute(
            contracts.update()
            .where(
                contracts.c.application_id == application_id,
                contracts.c.status.in_([ContractStatus.PUSHED.value, ContractStatus.FAILED.value]),
            )
            .values(status=ContractStatus.SUPERSEDED.value, updated_at=now)
        )
        await conn.execute(
            contracts.insert().values(
                id=contract_id,
                application_id=application_id,
                contract_number=contract_number,
                template_version=rendered.template_version,
                pdf_sha256=rendered.sha256,
                page_count=rendered.page_count,
                status=ContractStatus.PUSHED.value,
                pushed_by=actor.id,
                pushed_at=now,
                pages_read="[]",
                otp_attempts=0,
                updated_at=now,
            )
        )
        await audit.append(
            conn,
            actor,
            ContractAction.PUSHED,
            application_id=application_id,
            request_id=request_id,
            details={
                "contract_id": contract_id,
                "contract_number": contract_number,
                "template_version": rendered.template_version,
                "document_sha256": rendered.sha256,
                "page_count": rendered.page_count,
                "evidence_sha256": evidence_sha256,
                "superseded": superseded.rowcount,
            },
            at=now,
        )
    contract = await latest_contract(engine, application_id)
    assert contract is not None
    return contract


async def latest_contract(engine: AsyncEngine, application_id: str) -> Contract | None:
    """The application's current contract: the newest not superseded."""
    async with engine.connect() as conn:
        row = await newest_row(
            conn,
            contracts,
            contracts.c.pushed_at,
            contracts.c.application_id == application_id,
            contracts.c.status != ContractStatus.SUPERSEDED.value,
        )
    return _contract(row) if row else None


_ANY_STEP = object()


async def update_contract(
    conn: AsyncConnection,
    contract: Contract,
    allowed: tuple[ContractStatus, ...],
    *,
    from_step: object = _ANY_STEP,
    **values: Any,
) -> None:
    """Update the contract if its status is one of `allowed` (and, with `from_step`,
    its last signing step is that one, None for none yet); ContractConflict if not."""
    conditions = [contracts.c.id == contract.id, contracts.c.status.in_([s.value for s in allowed])]
    if from_step is None:
        conditions.append(contracts.c.partial_step.is_(None))
    elif from_step is not _ANY_STEP:
        conditions.append(contracts.c.partial_step == from_step)
    result = await conn.execute(
        contracts.update().where(*conditions).values(updated_at=datetime.now(UTC), **values)
    )
    if result.rowcount != 1:
        raise ContractConflict("the contract changed meanwhile; reload and try again")


OPEN = (ContractStatus.PUSHED, ContractStatus.FAILED)


async def mark_page_read(
    engine: AsyncEngine,
    actor: audit.Actor,
    contract: Contract,
    page: int,
    *,
    request_id: str | None = None,
) -> Contract:
    if not 1 <= page <= contract.page_count:
        raise ContractConflict(f"the contract has pages 1 to {contract.page_count}")
    if page in contract.pages_read:
        return contract
    pages = sorted({*contract.pages_read, page})
    async with engine.begin() as conn:
        await update_contract(conn, contract, OPEN, pages_read=json.dumps(pages))
        await audit.append(
            conn,
            actor,
            ContractAction.PAGE_READ,
            application_id=contract.application_id,
            request_id=request_id,
            details={
                "contract_id": contract.id,
                "page": page,
                "document_sha256": contract.pdf_sha256,
            },
        )
    updated = await latest_contract(engine, contract.application_id)
    assert updated is not None
    return updated


async def record_step(
    engine: AsyncEngine,
    actor: audit.Actor,
    contract: Contract,
    step: str,
    before_sha256: str,
    after_sha256: str,
    details: dict[str, Any] | None = None,
    *,
    from_step: str | None,
    request_id: str | None = None,
) -> None:
    """A signing step succeeded: keep its output as the partial file, audit both hashes.

    Only if the contract's last step is still `from_step`: two runners of the same
    step (the applicant's request and the manager's retry) record it once, and the
    other gets ContractConflict and must reload."""
    async with engine.begin() as conn:
        await update_contract(
            conn,
            contract,
            OPEN,
            from_step=from_step,
            partial_sha256=after_sha256,
            partial_step=step,
            last_error=None,
        )
        await audit.append(
            conn,
            actor,
            ContractAction.of_step(step),
            application_id=contract.application_id,
            request_id=request_id,
            details={
                "contract_id": contract.id,
                "document_sha256_before": before_sha256,
                "document_sha256_after": after_sha256,
                **(details or {}),
            },
        )


async def record_failure(
    engine: AsyncEngine,
    actor: audit.Actor,
    contract: Contract,
    step: str,
    error: SigningError,
    *,
    request_id: str | None = None,
) -> None:
    async with engine.begin() as conn:
        await update_contract(
            conn,
            contract,
            OPEN,
            status=ContractStatus.FAILED.value,
            last_error=f"{step}: {error.code}",
        )
        await audit.append(
            conn,
            actor,
            ContractAction.SIGNING_FAILED,
            application_id=contract.application_id,
            request_id=request_id,
            details={"contract_id": contract.id, "step": step, "code": error.code},
        )


async def mark_signed(
    engine: AsyncEngine,
    actor: audit.Actor,
    contract: Contract,
    signed_sha256: str,
    *,
    request_id: str | None = None,
) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await update_contract(
            conn,
            contract,
            OPEN,
            status=ContractStatus.SIGNED.value,
            signed_sha256=signed_sha256,
            signed_at=now,
            last_error=None,
        )
        await audit.append(
            conn,
            actor,
            ContractAction.SIGNED,
            application_id=contract.application_id,
            request_id=request_id,
            details={"contract_id": contract.id, "document_sha256": signed_sha256},
            at=now,
        )
