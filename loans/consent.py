"""The applicant's consent to recording and data use, before anything is captured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from loans.access import Principal
from loans.actions import LoanAction
from loans.applications import load_visible
from loans.errors import ActionForbidden, ConsentRequired
from loans.roles import Role
from store.rows import newest_row, record_from_row
from store.schema import consents

# Bump when the consent wording changes, so each record names what was agreed to.
CONSENT_TEXT_VERSION = "2026-11-v1"


@dataclass(frozen=True, slots=True)
class Consent:
    recording: bool
    data_use: bool
    text_version: str
    language: str
    accepted_at: datetime


async def current_consent(engine: AsyncEngine, application_id: str) -> Consent | None:
    async with engine.connect() as conn:
        return await _latest(conn, application_id)


async def _latest(conn: AsyncConnection, application_id: str) -> Consent | None:
    row = await newest_row(
        conn, consents, consents.c.id, consents.c.application_id == application_id
    )
    return record_from_row(Consent, row) if row else None


async def record_consent(
    engine: AsyncEngine,
    principal: Principal,
    *,
    recording: bool,
    data_use: bool,
    language: str,
    request_id: str | None = None,
) -> Consent:
    """Record consent once per application; a repeat returns the existing record."""
    if principal.role is not Role.APPLICANT or not principal.application_id:
        raise ActionForbidden("only the applicant gives consent")
    if not (recording and data_use):
        raise ConsentRequired(
            "both recording and data use must be agreed to before the remote process can continue"
        )
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await load_visible(conn, principal, principal.application_id)
        existing = await _latest(conn, principal.application_id)
        if existing is not None:
            return existing
        await conn.execute(
            consents.insert().values(
                application_id=principal.application_id,
                invite_id=principal.invite_id,
                recording=True,
                data_use=True,
                text_version=CONSENT_TEXT_VERSION,
                language=language,
                accepted_at=now,
            )
        )
        await audit.append(
            conn,
            principal.actor,
            LoanAction.CONSENT_GIVEN,
            application_id=principal.application_id,
            request_id=request_id,
            details={
                "recording": True,
                "data_use": True,
                "text_version": CONSENT_TEXT_VERSION,
                "language": language,
                "invite_id": principal.invite_id,
            },
            at=now,
        )
    return Consent(True, True, CONSENT_TEXT_VERSION, language, now)
