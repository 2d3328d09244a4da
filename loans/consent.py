"""The applicant's consents, each its own versioned and audited record, before
anything is captured: the interview's recording and the processing of identity
documents and business data (both needed to go on remotely), and, separately,
the processing of biometric information (face images, face features, liveness
video), which may be declined: the identity is then confirmed by the manager on
the recorded call, without face matching (PIPL Art. 28-29; the 2025 face
recognition rules' non-face alternative).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from loans.access import Principal
from loans.actions import LoanAction
from loans.applications import load_visible
from loans.errors import ActionForbidden, ConsentRequired
from loans.roles import Role
from store.schema import consent_records


class ConsentPurpose(StrEnum):
    RECORDING = "recording"
    PERSONAL_DATA = "personal_data"
    BIOMETRICS = "biometrics"


# Bump a purpose's version when its wording changes (web/locale: consent_text_*),
# so each record names what was agreed to.
TEXT_VERSIONS: Mapping[ConsentPurpose, str] = {
    ConsentPurpose.RECORDING: "2026-12-v2",
    ConsentPurpose.PERSONAL_DATA: "2026-12-v2",
    ConsentPurpose.BIOMETRICS: "2026-12-v1",
}
REQUIRED = (ConsentPurpose.RECORDING, ConsentPurpose.PERSONAL_DATA)


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    purpose: ConsentPurpose
    granted: bool
    text_version: str
    language: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose.value,
            "granted": self.granted,
            "text_version": self.text_version,
            "language": self.language,
            "at": self.at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True, slots=True)
class Consents:
    """The newest record of each purpose."""

    records: Mapping[ConsentPurpose, ConsentRecord]

    @property
    def given(self) -> bool:
        """Recording and personal data agreed: the remote process may go on."""
        return all(
            (r := self.records.get(purpose)) is not None and r.granted for purpose in REQUIRED
        )

    @property
    def biometrics(self) -> bool | None:
        """Agreed, declined (or withdrawn), or not asked yet (None)."""
        record = self.records.get(ConsentPurpose.BIOMETRICS)
        return None if record is None else record.granted

    def as_json(self) -> dict[str, Any]:
        return {
            "given": self.given,
            "biometrics": self.biometrics,
            "records": [r.as_json() for r in self.records.values()],
        }


async def current_consents(engine: AsyncEngine, application_id: str) -> Consents:
    async with engine.connect() as conn:
        return await _current(conn, application_id)


async def consent_history(engine: AsyncEngine, application_id: str) -> list[ConsentRecord]:
    """Every record, oldest first (for the applicant's own data export)."""
    async with engine.connect() as conn:
        return await _history(conn, application_id)


async def _history(conn: AsyncConnection, application_id: str) -> list[ConsentRecord]:
    rows = await conn.execute(
        select(consent_records)
        .where(consent_records.c.application_id == application_id)
        .order_by(consent_records.c.id)
    )
    return [
        ConsentRecord(
            ConsentPurpose(row.purpose), row.granted, row.text_version, row.language, row.at
        )
        for row in rows
    ]


async def _current(conn: AsyncConnection, application_id: str) -> Consents:
    return Consents({r.purpose: r for r in await _history(conn, application_id)})


async def _append(
    conn: AsyncConnection,
    actor: audit.Actor,
    application_id: str,
    invite_id: str,
    record: ConsentRecord,
    action: LoanAction,
    request_id: str | None,
) -> None:
    await conn.execute(
        consent_records.insert().values(
            application_id=application_id,
            invite_id=invite_id,
            purpose=record.purpose.value,
            granted=record.granted,
            text_version=record.text_version,
            language=record.language,
            at=record.at,
        )
    )
    await audit.append(
        conn,
        actor,
        action,
        application_id=application_id,
        request_id=request_id,
        details={
            "purpose": record.purpose.value,
            "granted": record.granted,
            "text_version": record.text_version,
            "language": record.language,
            "invite_id": invite_id,
        },
        at=record.at,
    )


def _applicant(principal: Principal) -> tuple[str, str]:
    if principal.role is not Role.APPLICANT or not principal.application_id:
        raise ActionForbidden("only the applicant gives consent")
    assert principal.invite_id is not None
    return principal.application_id, principal.invite_id


async def record_consent(
    engine: AsyncEngine,
    principal: Principal,
    *,
    recording: bool,
    data_use: bool,
    language: str,
    request_id: str | None = None,
) -> Consents:
    """The two consents the remote process needs, each its own record, once per
    application; a repeat returns what is recorded."""
    application_id, invite_id = _applicant(principal)
    if not (recording and data_use):
        raise ConsentRequired(
            "both recording and data use must be agreed to before the remote process can continue"
        )
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await load_visible(conn, principal, application_id)
        existing = await _current(conn, application_id)
        for purpose in REQUIRED:
            if purpose not in existing.records:
                await _append(
                    conn,
                    principal.actor,
                    application_id,
                    invite_id,
                    ConsentRecord(purpose, True, TEXT_VERSIONS[purpose], language, now),
                    LoanAction.CONSENT_GIVEN,
                    request_id,
                )
        return await _current(conn, application_id)


async def choose_biometrics(
    engine: AsyncEngine,
    principal: Principal,
    *,
    granted: bool,
    language: str,
    request_id: str | None = None,
) -> tuple[Consents, bool]:
    """The applicant's choice on biometric processing, after the two required
    consents; (consents, withdrawn) where withdrawn says an agreement was taken back
    now. Choosing what is already recorded records nothing."""
    application_id, invite_id = _applicant(principal)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await load_visible(conn, principal, application_id)
        existing = await _current(conn, application_id)
        if not existing.given:
            raise ConsentRequired("agree to the recording and data use first")
        before = existing.biometrics
        if before is granted:
            return existing, False
        withdrawn = before is True and not granted
        action = (
            LoanAction.CONSENT_GIVEN
            if granted
            else LoanAction.CONSENT_WITHDRAWN
            if withdrawn
            else LoanAction.CONSENT_DECLINED
        )
        biometrics = ConsentPurpose.BIOMETRICS
        await _append(
            conn,
            principal.actor,
            application_id,
            invite_id,
            ConsentRecord(biometrics, granted, TEXT_VERSIONS[biometrics], language, now),
            action,
            request_id,
        )
        return await _current(conn, application_id), withdrawn


async def withdraw_biometrics_on_request(
    engine: AsyncEngine, actor: audit.Actor, application_id: str, request_id: str | None = None
) -> bool:
    """A withdrawal the applicant asked staff for (a subject request by phone or
    letter), recorded as theirs would be; False when there was no agreement."""
    async with engine.begin() as conn:
        current = await _current(conn, application_id)
        agreed = current.records.get(ConsentPurpose.BIOMETRICS)
        if agreed is None or not agreed.granted:
            return False
        invite_id = (
            await conn.execute(
                select(consent_records.c.invite_id)
                .where(consent_records.c.application_id == application_id)
                .order_by(consent_records.c.id.desc())
                .limit(1)
            )
        ).scalar_one()
        await _append(
            conn,
            actor,
            application_id,
            invite_id,
            ConsentRecord(
                ConsentPurpose.BIOMETRICS,
                False,
                TEXT_VERSIONS[ConsentPurpose.BIOMETRICS],
                agreed.language,
                datetime.now(UTC),
            ),
            LoanAction.CONSENT_WITHDRAWN,
            request_id,
        )
    return True
