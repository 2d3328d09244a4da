"""How an application's identity gets verified: automatically (documents, face
match and liveness), by a manager's eye where the face match asked for review,
or by the manager on the recorded call against the ID card, with no face match:
for an applicant who declined biometric processing, or whose liveness attempts
all failed. The manager paths are flagged for compliance's four-eyes review."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit.log import entries_for_application
from kyc.actions import KycAction
from kyc.records import (
    documents_passed,
    face_review_pending,
    failed_liveness_count,
    identity_evidence_complete,
    latest_passed_liveness,
)
from kyc.source_checks import sources_hold
from kyc.sources import SourceKind
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.actions import LoanAction
from loans.consent import current_consents
from loans.states import Action, State
from store.database import read_only

# What a liveness record's "source" says when the clip was recorded on the phone
# and uploaded (live_identity judges what the server receives itself).
UPLOAD_SOURCE = "upload"


@dataclass(frozen=True, slots=True)
class IdentityRules:
    """What a deployment asks before an identity counts as verified."""

    # Outside sources whose agreement gates identity_verified (kyc/sources.py).
    required_sources: Collection[SourceKind]
    # Failed liveness attempts after which the manager takes over on the call.
    liveness_attempts: int


async def manager_check_ready(
    engine: AsyncEngine, application_id: str, rules: IdentityRules
) -> bool:
    """The call in which the manager confirms the identity is open: every document
    check passed, the required outside sources agree, and either biometrics were
    declined or every liveness attempt failed."""
    if not await documents_passed(engine, application_id):
        return False
    if not await sources_hold(engine, application_id, rules.required_sources):
        return False
    if (await current_consents(engine, application_id)).biometrics is False:
        return True
    return await failed_liveness_count(engine, application_id) >= rules.liveness_attempts


async def manager_may_confirm(
    engine: AsyncEngine, application_id: str, rules: IdentityRules, *, in_call: bool
) -> bool:
    """A manager's confirmation is allowed where the face match asked for review,
    or on the call of a case whose manager check is open."""
    if not await sources_hold(engine, application_id, rules.required_sources):
        return False
    if in_call and await manager_check_ready(engine, application_id, rules):
        return True
    return (
        await face_review_pending(engine, application_id)
        and (await current_consents(engine, application_id)).biometrics is True
    )


async def record_confirmed_on_call(
    engine: AsyncEngine, actor: audit.Actor, application_id: str, request_id: str | None
) -> None:
    """The confirmation was made on the recorded call: signing then rests on it
    instead of a fresh face check."""
    async with engine.begin() as conn:
        await audit.append(
            conn,
            actor,
            KycAction.CONFIRMED_ON_CALL,
            application_id=application_id,
            request_id=request_id,
            details={},
        )


async def confirmed_on_call(engine: AsyncEngine, application_id: str) -> bool:
    async with read_only(engine) as conn:
        entries = await entries_for_application(conn, application_id, limit=100_000)
    return any(e.action == KycAction.CONFIRMED_ON_CALL for e in entries)


async def confirmed_by_manager(engine: AsyncEngine, application_id: str) -> bool:
    """A manager confirmed the identity by eye (any manager path): compliance's
    four-eyes review must then look at that confirmation itself."""
    async with read_only(engine) as conn:
        entries = await entries_for_application(conn, application_id, limit=100_000)
    return any(
        e.action == LoanAction.APPLICATION_TRANSITION
        and e.details.get("action") == Action.CONFIRM_IDENTITY
        for e in entries
    )


async def verify_when_complete(
    engine: AsyncEngine,
    application_id: str,
    required_sources: Collection[SourceKind],
    *,
    request_id: str | None = None,
) -> State:
    """After a passed check: an invited case whose identity evidence is complete
    (and whose outside sources agree) moves to identity_verified. The case's
    state afterwards."""
    app = await apps.get_application(engine, SYSTEM_PRINCIPAL, application_id)
    if (
        app.state is State.INVITED
        and await identity_evidence_complete(engine, application_id)
        and await sources_hold(engine, application_id, required_sources)
    ):
        app = await apps.act(
            engine, SYSTEM_PRINCIPAL, application_id, Action.VERIFY_IDENTITY, request_id=request_id
        )
    return app.state


async def live_recheck_needed(engine: AsyncEngine, application_id: str) -> bool:
    """The identity rests on an uploaded clip, the fallback when no live
    connection could be made: the server cannot tell such a clip from any other
    file, so a check on the call (or the manager's confirmation there) must come
    before the contract."""
    latest = await latest_passed_liveness(engine, application_id)
    if latest is None or (latest.result or {}).get("source") != UPLOAD_SOURCE:
        return False
    return not await confirmed_on_call(engine, application_id)
