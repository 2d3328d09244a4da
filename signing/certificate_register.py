"""The issuing CA's register: certificates it issued and revoked, for OCSP, CRLs
and each contract's validation data."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from signing.actions import PkiAction
from signing.errors import RevocationRefused
from signing.pades import StatusBook
from signing.pki.revocation import CertificateStatus, Revocation, Status
from store.schema import certificates, revocations


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
