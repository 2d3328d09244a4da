"""Creating, reading and moving applications through their states.

Each change and its audit entry are written in one transaction; a refused change
writes nothing but, where it is an authorization failure, the audit entry saying so.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from loans.access import Principal, can_view
from loans.actions import LoanAction
from loans.errors import (
    ActionForbidden,
    ApplicationNotFound,
    ConcurrentChange,
    InvalidApplication,
    TransitionNotAllowed,
)
from loans.models import Application, ApplicationInput, terms_digest
from loans.roles import Role
from loans.states import ACTIONS_NEEDING_COMMENT, REVIEW_ACTIONS, Action, State, resolve
from store.database import read_only
from store.schema import applications, audit_log, kyc_documents, liveness_attempts

MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Application]
    total: int
    offset: int
    limit: int


async def create_application(
    engine: AsyncEngine,
    principal: Principal,
    data: ApplicationInput,
    *,
    request_id: str | None = None,
) -> Application:
    """A new draft application, assigned to the manager creating it."""
    if principal.role is not Role.MANAGER or principal.user_id is None:
        raise ActionForbidden("only an account manager creates applications")
    now = datetime.now(UTC)
    app_id = str(uuid.uuid4())
    row = {
        "id": app_id,
        "company_name": data.company_name,
        "credit_code": data.credit_code,
        "legal_rep_name": data.legal_rep_name,
        "legal_rep_phone": data.legal_rep_phone,
        "amount_fen": data.amount_fen,
        "term_months": data.term_months,
        "annual_rate_ppm": data.annual_rate_ppm,
        "repayment_method": data.repayment_method.value,
        "manager_id": principal.user_id,
        "state": State.DRAFT.value,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    async with engine.begin() as conn:
        await conn.execute(applications.insert().values(**row))
        await audit.append(
            conn,
            principal.actor,
            LoanAction.APPLICATION_CREATED,
            application_id=app_id,
            request_id=request_id,
            details={
                "company_name": data.company_name,
                "credit_code": data.credit_code,
                "legal_rep_phone": Application.from_row(row).masked_phone,
                "loan_amount_fen": data.amount_fen,
                "term_months": data.term_months,
                "annual_rate_ppm": data.annual_rate_ppm,
                "repayment_method": data.repayment_method.value,
                "manager_id": principal.user_id,
                "terms_sha256": terms_digest(data),
            },
            at=now,
        )
    return Application.from_row(row)


async def load(conn: AsyncConnection, application_id: str) -> Application:
    row = (
        (await conn.execute(select(applications).where(applications.c.id == application_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise ApplicationNotFound("no such application")
    return Application.from_row(row)


async def record_denial(
    engine: AsyncEngine,
    principal: Principal,
    what: str,
    *,
    application_id: str | None = None,
    request_id: str | None = None,
) -> None:
    """Audit a refused authorization (the refusal itself changes nothing else)."""
    async with engine.begin() as conn:
        await audit.append(
            conn,
            principal.actor,
            LoanAction.ACTION_DENIED,
            application_id=application_id,
            request_id=request_id,
            details={"attempted": what},
        )


async def load_visible(
    conn: AsyncConnection, principal: Principal, application_id: str
) -> Application:
    """The application if `principal` may see it; ActionForbidden if it exists but
    is not theirs, ApplicationNotFound if it does not exist."""
    app = await load(conn, application_id)
    if not can_view(principal, app.id, app.manager_id):
        raise ActionForbidden("this application is not yours to see")
    return app


async def get_application(
    engine: AsyncEngine, principal: Principal, application_id: str, *, request_id: str | None = None
) -> Application:
    try:
        async with engine.connect() as conn:
            return await load_visible(conn, principal, application_id)
    except ActionForbidden:
        await record_denial(
            engine,
            principal,
            "view application",
            application_id=application_id,
            request_id=request_id,
        )
        raise


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What a reviewer narrows the list by; every field optional."""

    state: State | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    manager_id: int | None = None
    ever_flagged: bool | None = None
    kyc: str | None = None  # "passed" | "failed" | "none": the liveness outcome


def _filtered(query: Any, wanted: ListFilter) -> Any:
    if wanted.state is not None:
        query = query.where(applications.c.state == wanted.state.value)
    if wanted.created_from is not None:
        query = query.where(applications.c.created_at >= wanted.created_from)
    if wanted.created_before is not None:
        query = query.where(applications.c.created_at < wanted.created_before)
    if wanted.manager_id is not None:
        query = query.where(applications.c.manager_id == wanted.manager_id)
    if wanted.ever_flagged is not None:
        # Details are canonical JSON (sorted keys, no spaces): the text is exact.
        flagged = exists().where(
            audit_log.c.application_id == applications.c.id,
            audit_log.c.action == LoanAction.APPLICATION_TRANSITION,
            audit_log.c.details.contains(f'"action":"{Action.FLAG}"'),
        )
        query = query.where(flagged if wanted.ever_flagged else ~flagged)
    if wanted.kyc is not None:
        attempts = liveness_attempts.c.application_id == applications.c.id
        passed = exists().where(attempts, liveness_attempts.c.status == "passed")
        tried = exists().where(attempts, liveness_attempts.c.status != "issued")
        query = query.where(
            {"passed": passed, "failed": tried & ~passed, "none": ~tried}[wanted.kyc]
        )
    return query


async def list_applications(
    engine: AsyncEngine,
    principal: Principal,
    *,
    state: State | None = None,
    wanted: ListFilter | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Applications visible to `principal`, newest first."""
    query = select(applications)
    if principal.role is Role.MANAGER:
        query = query.where(applications.c.manager_id == principal.user_id)
    elif principal.role is not Role.COMPLIANCE:
        raise ActionForbidden("only managers and compliance list applications")
    query = _filtered(query, wanted or ListFilter(state=state))
    async with read_only(engine) as conn:
        total = (
            await conn.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (
            (
                await conn.execute(
                    query.order_by(applications.c.created_at.desc(), applications.c.id)
                    .offset(offset)
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
    return Page([Application.from_row(r) for r in rows], int(total), offset, limit)


async def transition(
    conn: AsyncConnection,
    principal: Principal,
    app: Application,
    action: Action,
    *,
    comment: str | None = None,
    request_id: str | None = None,
) -> Application:
    """Apply `action` inside the caller's transaction (state change + audit entry).

    The update is conditioned on the version read, so two concurrent actions on one
    application cannot both succeed.
    """
    target = resolve(app.state, action, principal.role)
    if action in REVIEW_ACTIONS and principal.user_id == app.manager_id:
        raise ActionForbidden("the case's own manager may not review it (four eyes)")
    now = datetime.now(UTC)
    result = await conn.execute(
        applications.update()
        .where(applications.c.id == app.id, applications.c.version == app.version)
        .values(state=target.value, version=app.version + 1, updated_at=now)
    )
    if result.rowcount != 1:
        raise ConcurrentChange("the application changed meanwhile; reload and try again")
    details: dict[str, str] = {"action": action.value, "from": app.state.value, "to": target.value}
    if comment:
        details["comment"] = comment
    await audit.append(
        conn,
        principal.actor,
        LoanAction.APPLICATION_TRANSITION,
        application_id=app.id,
        request_id=request_id,
        details=details,
        at=now,
    )
    return replace(app, state=target, version=app.version + 1, updated_at=now)


async def act(
    engine: AsyncEngine,
    principal: Principal,
    application_id: str,
    action: Action,
    *,
    comment: str | None = None,
    request_id: str | None = None,
) -> Application:
    """Take `action` on an application as `principal`, in its own transaction."""
    comment = (comment or "").strip() or None
    if action in ACTIONS_NEEDING_COMMENT and not comment:
        raise InvalidApplication.for_fields({"comment": f"a reason is required to {action.value}"})
    if comment and len(comment) > MAX_COMMENT:
        raise InvalidApplication.for_fields({"comment": f"at most {MAX_COMMENT} characters"})
    try:
        async with engine.begin() as conn:
            app = await load_visible(conn, principal, application_id)
            return await transition(
                conn, principal, app, action, comment=comment, request_id=request_id
            )
    except ActionForbidden:
        await record_denial(
            engine,
            principal,
            f"{action.value} application",
            application_id=application_id,
            request_id=request_id,
        )
        raise


# What a data subject may have corrected (PIPL Art. 46); the loan's terms are the
# bank's offer, changed by a new application, not a correction.
CORRECTABLE = ("company_name", "credit_code", "legal_rep_name", "legal_rep_phone")
# These are compared with the documents: corrected only before any is read.
CHECKED_AGAINST_DOCUMENTS = frozenset({"company_name", "credit_code", "legal_rep_name"})


async def correct(
    engine: AsyncEngine,
    principal: Principal,
    application_id: str,
    *,
    field: str,
    value: str,
    reason: str,
    request_id: str | None = None,
) -> Application:
    """The case's manager corrects the applicant's data, with a reason, before the
    identity is verified. The audit entry names the field and the reason, and the
    SHA-256 of the old and new values, never the values."""
    reason = reason.strip()
    if field not in CORRECTABLE:
        raise InvalidApplication.for_fields({"field": f"one of {', '.join(CORRECTABLE)}"})
    if not reason or len(reason) > MAX_COMMENT:
        raise InvalidApplication.for_fields({"reason": "a reason of at most 2000 characters"})
    try:
        async with engine.begin() as conn:
            app = await load_visible(conn, principal, application_id)
            if principal.role is not Role.MANAGER or principal.user_id != app.manager_id:
                raise ActionForbidden("only the case's manager corrects its data")
            if app.state not in (State.DRAFT, State.INVITED):
                raise TransitionNotAllowed.of(app.state.value, "correct")
            if field in CHECKED_AGAINST_DOCUMENTS and await conn.scalar(
                select(exists().where(kyc_documents.c.application_id == app.id))
            ):
                raise InvalidApplication.for_fields(
                    {field: "documents were already read against it: start a new application"}
                )
            current = {
                "company_name": app.company_name,
                "credit_code": app.credit_code,
                "legal_rep_name": app.legal_rep_name,
                "legal_rep_phone": app.legal_rep_phone,
                "loan_amount": app.loan_amount,
                "term_months": app.term_months,
                "annual_rate_percent": app.annual_rate_percent,
                "repayment_method": app.repayment_method.value,
            }
            data = ApplicationInput.parse(**{**current, field: value})  # type: ignore[arg-type]
            new_value = getattr(data, field)
            now = datetime.now(UTC)
            result = await conn.execute(
                applications.update()
                .where(applications.c.id == app.id, applications.c.version == app.version)
                .values({field: new_value, "version": app.version + 1, "updated_at": now})
            )
            if result.rowcount != 1:
                raise ConcurrentChange("the application changed meanwhile; reload and try again")
            await audit.append(
                conn,
                principal.actor,
                LoanAction.APPLICATION_CORRECTED,
                application_id=app.id,
                request_id=request_id,
                details={
                    "field": field,
                    "reason": reason,
                    "before_sha256": _digest(str(current[field])),
                    "after_sha256": _digest(new_value),
                },
                at=now,
            )
    except ActionForbidden:
        await record_denial(
            engine,
            principal,
            "correct application",
            application_id=application_id,
            request_id=request_id,
        )
        raise
    return replace(app, **{field: new_value}, version=app.version + 1, updated_at=now)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
