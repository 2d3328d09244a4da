"""How an application's identity gets verified: automatically (documents, face
match and liveness), by a manager's eye where the face match asked for review,
or, for an applicant who declined biometric processing, by the manager on the
recorded call against the ID card, with no face matching at all. Both manager
paths are flagged for compliance's four-eyes review."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import entries_for_application
from kyc.records import documents_passed, face_review_pending
from kyc.source_checks import sources_hold
from kyc.sources import SourceKind
from loans.actions import LoanAction
from loans.consent import current_consents
from loans.states import Action
from store.database import read_only


async def manager_check_ready(
    engine: AsyncEngine, application_id: str, required_sources: Collection[SourceKind]
) -> bool:
    """The non-face path is open: biometrics declined, every document check passed
    and the required outside sources agree. The applicant may then join the call in
    which the manager confirms the identity."""
    consents = await current_consents(engine, application_id)
    return (
        consents.biometrics is False
        and await documents_passed(engine, application_id)
        and await sources_hold(engine, application_id, required_sources)
    )


async def manager_may_confirm(
    engine: AsyncEngine,
    application_id: str,
    required_sources: Collection[SourceKind],
    *,
    in_call: bool,
) -> bool:
    """A manager's confirmation is allowed where the face match asked for review,
    or on the non-face path during the call itself."""
    if not await sources_hold(engine, application_id, required_sources):
        return False
    if await face_review_pending(engine, application_id):
        return (await current_consents(engine, application_id)).biometrics is True
    return in_call and await manager_check_ready(engine, application_id, required_sources)


async def confirmed_by_manager(engine: AsyncEngine, application_id: str) -> bool:
    """A manager confirmed the identity by eye (either manager path): compliance's
    four-eyes review must then look at that confirmation itself."""
    async with read_only(engine) as conn:
        entries = await entries_for_application(conn, application_id, limit=100_000)
    return any(
        e.action == LoanAction.APPLICATION_TRANSITION
        and e.details.get("action") == Action.CONFIRM_IDENTITY
        for e in entries
    )
