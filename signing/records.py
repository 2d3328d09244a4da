"""Contracts, templates, issued and revoked certificates in the database, with audit entries.

Every change here appends its audit entry in the same transaction. Status
changes are conditional on the status they start from, so two requests racing on
one contract cannot both move it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from signing.actions import ContractAction, PkiAction
from signing.contract.render import RenderedContract, builtin_template
from signing.contract.workers import ContractRenderer
from signing.errors import (
    CodeRejected,
    ContractConflict,
    RevocationRefused,
    SigningError,
    TooManyCodes,
)
from signing.pades import StatusBook
from signing.pki.revocation import CertificateStatus, Revocation, Status
from store.schema import certificates, contract_templates, contracts, revocations

OTP_DIGITS = 6
OTP_MAX_ATTEMPTS = 5
# Each new code resets the tries, so the number of codes bounds the guesses too:
# at most this many codes per contract in OTP_ISSUE_WINDOW.
OTP_MAX_ISSUES = 5
OTP_ISSUE_WINDOW = timedelta(hours=1)


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


def _contract(row: Any) -> Contract:
    return Contract(
        id=row["id"],
        application_id=row["application_id"],
        contract_number=row["contract_number"],
        template_version=row["template_version"],
        pdf_sha256=row["pdf_sha256"],
        page_count=row["page_count"],
        status=ContractStatus(row["status"]),
        pushed_by=row["pushed_by"],
        pushed_at=row["pushed_at"],
        pages_read=json.loads(row["pages_read"]),
        otp_expires_at=row["otp_expires_at"],
        otp_attempts=row["otp_attempts"],
        partial_sha256=row["partial_sha256"],
        partial_step=row["partial_step"],
        signed_sha256=row["signed_sha256"],
        signed_at=row["signed_at"],
        last_error=row["last_error"],
    )


# Templates -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    version: int
    body: str
    note: str
    created_by: str
    created_at: datetime


async def current_template(engine: AsyncEngine) -> Template:
    """The newest template version; the built-in text becomes version 1 on first use."""
    async with engine.begin() as conn:
        row = (
            (
                await conn.execute(
                    select(contract_templates)
                    .order_by(contract_templates.c.version.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return await _insert_template(
                conn, audit.SYSTEM, builtin_template(), "built-in template", None
            )
    return Template(row["version"], row["body"], row["note"], row["created_by"], row["created_at"])


async def _insert_template(
    conn: AsyncConnection, actor: audit.Actor, body: str, note: str, request_id: str | None
) -> Template:
    now = datetime.now(UTC)
    latest = (await conn.execute(select(func.max(contract_templates.c.version)))).scalar_one()
    version = int(latest or 0) + 1
    await conn.execute(
        contract_templates.insert().values(
            version=version, body=body, note=note, created_by=actor.id, created_at=now
        )
    )
    await audit.append(
        conn,
        actor,
        ContractAction.TEMPLATE_SAVED,
        request_id=request_id,
        details={
            "version": version,
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "note": note,
        },
        at=now,
    )
    return Template(version, body, note, actor.id, now)


async def save_template(
    engine: AsyncEngine,
    renderer: ContractRenderer,
    actor: audit.Actor,
    body: str,
    note: str,
    *,
    request_id: str | None = None,
) -> Template:
    await renderer.check(body)
    await current_template(engine)  # the built-in text keeps version 1
    async with engine.begin() as conn:
        return await _insert_template(conn, actor, body, note, request_id)


async def list_templates(engine: AsyncEngine) -> list[Template]:
    await current_template(engine)
    async with engine.connect() as conn:
        rows = (
            (await conn.execute(select(contract_templates).order_by(contract_templates.c.version)))
            .mappings()
            .all()
        )
    return [
        Template(r["version"], r["body"], r["note"], r["created_by"], r["created_at"]) for r in rows
    ]


async def get_template(engine: AsyncEngine, version: int) -> Template | None:
    await current_template(engine)
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(contract_templates).where(contract_templates.c.version == version)
                )
            )
            .mappings()
            .first()
        )
    return (
        Template(row["version"], row["body"], row["note"], row["created_by"], row["created_at"])
        if row
        else None
    )


# Contracts -------------------------------------------------------------------


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
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(contracts)
                    .where(
                        contracts.c.application_id == application_id,
                        contracts.c.status != ContractStatus.SUPERSEDED.value,
                    )
                    .order_by(contracts.c.pushed_at.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
    return _contract(row) if row else None


_ANY_STEP = object()


async def _update(
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
        await _update(conn, contract, OPEN, pages_read=json.dumps(pages))
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
                f"{OTP_MAX_ISSUES} codes were sent in the last hour; try again later"
            )
        await _update(
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
        problem = None
        if row["otp_hash"] is None:
            problem = "request a code first"
        elif row["otp_expires_at"] <= now:
            problem = "the code has expired; request a new one"
        elif row["otp_attempts"] >= OTP_MAX_ATTEMPTS:
            problem = "too many wrong codes; request a new one"
        elif not hmac.compare_digest(row["otp_hash"], _code_digest(contract.id, code)):
            problem = "the code is not correct"
        if problem is None:
            await _update(conn, contract, OPEN, otp_hash=None, otp_expires_at=None)
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
            details={"contract_id": contract.id, "reason": problem},
        )
    raise CodeRejected(problem)


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
        await _update(
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
        await _update(
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
        await _update(
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


# Certificates and revocation ---------------------------------------------------


async def record_certificate(
    engine: AsyncEngine,
    actor: audit.Actor,
    certificate: x509.Certificate,
    kind: str,
    details: dict[str, Any],
    *,
    application_id: str | None = None,
    contract_id: str | None = None,
    request_id: str | None = None,
) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            certificates.insert().values(
                serial=str(certificate.serial_number),
                kind=kind,
                subject=certificate.subject.rfc4514_string(),
                application_id=application_id,
                contract_id=contract_id,
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
                details=json.dumps(details, ensure_ascii=False, sort_keys=True),
                issued_at=now,
            )
        )
        await audit.append(
            conn,
            actor,
            PkiAction.CERTIFICATE_ISSUED,
            application_id=application_id,
            request_id=request_id,
            details={
                "serial": str(certificate.serial_number),
                "kind": kind,
                "not_after": certificate.not_valid_after_utc.isoformat(),
                **details,
            },
            at=now,
        )


REASONS = {
    reason.name: reason for reason in x509.ReasonFlags if reason.name not in ("remove_from_crl",)
}


async def revoke(
    engine: AsyncEngine,
    actor: audit.Actor,
    serial: int,
    reason: str,
    known_serials: set[int],
    *,
    request_id: str | None = None,
) -> None:
    """Revoke a certificate the issuing CA issued. Revocation is final."""
    if reason not in REASONS:
        raise RevocationRefused(f"unknown reason; use one of {', '.join(sorted(REASONS))}")
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        issued = (
            await conn.execute(
                select(func.count())
                .select_from(certificates)
                .where(certificates.c.serial == str(serial))
            )
        ).scalar_one()
        if not issued and serial not in known_serials:
            raise RevocationRefused("no certificate with this serial was issued here")
        already = (
            await conn.execute(
                select(func.count())
                .select_from(revocations)
                .where(revocations.c.serial == str(serial))
            )
        ).scalar_one()
        if already:
            raise RevocationRefused("this certificate is already revoked")
        await conn.execute(
            revocations.insert().values(
                serial=str(serial),
                issuer="issuing",
                reason=reason,
                revoked_at=now,
                revoked_by=actor.id,
            )
        )
        await audit.append(
            conn,
            actor,
            PkiAction.CERTIFICATE_REVOKED,
            request_id=request_id,
            details={"serial": str(serial), "reason": reason},
            at=now,
        )


async def status_book(
    engine: AsyncEngine, service_serials: set[int], asked: Iterable[int] = ()
) -> StatusBook:
    """What the issuing CA issued (of the serials `asked` about) and everything it
    revoked: enough for an OCSP answer, a CRL or one contract's validation data,
    without reading every certificate ever issued."""
    wanted = [str(serial) for serial in asked]
    async with engine.connect() as conn:
        issued: set[int] = set()
        if wanted:
            query = select(certificates.c.serial).where(certificates.c.serial.in_(wanted))
            issued = {int(s) for s in (await conn.execute(query)).scalars()}
        rows = (await conn.execute(select(revocations))).mappings().all()
    revoked = {
        int(r["serial"]): Revocation(int(r["serial"]), r["revoked_at"], REASONS[r["reason"]])
        for r in rows
    }
    known = issued | service_serials

    def leaf_status(serial: int) -> CertificateStatus:
        if serial in revoked:
            return CertificateStatus(Status.REVOKED, revoked[serial])
        return CertificateStatus(Status.GOOD if serial in known else Status.UNKNOWN)

    leaf = list(revoked.values())
    return StatusBook(
        leaf_status=leaf_status, leaf_revocations=lambda: leaf, ca_revocations=lambda: []
    )
