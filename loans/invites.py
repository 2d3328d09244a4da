"""Applicant invite links: 128-bit random tokens, stored only as SHA-256, expiring,
revocable, each bound to one application."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from loans.access import Principal
from loans.actions import LoanAction
from loans.applications import load, load_visible, record_denial, transition
from loans.errors import ActionForbidden, InviteNotFound, InviteUnusable
from loans.roles import Role
from loans.states import Action, State
from store.rows import record_from_row
from store.schema import applications, invites

TOKEN_BYTES = 16  # 128 bits
# Links that match no invite are guesses or typos: refused always, but audited
# only this many a window, so nobody can grow the log by sending random links.
ANONYMOUS_REFUSALS_AUDITED = 20
REFUSALS_WINDOW = timedelta(minutes=10)

# Applicants may not enter a case that is finished or abandoned.
CLOSED_FOR_APPLICANT = frozenset(
    {State.DRAFT, State.CANCELLED, State.EXPIRED, State.REJECTED, State.APPROVED}
)


# A session opened with an invite ends with the case in these states (an
# approved or rejected case stays readable: the applicant downloads the contract).
ENDS_APPLICANT_SESSIONS = frozenset({State.DRAFT, State.CANCELLED, State.EXPIRED})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Invite:
    id: str
    application_id: str
    created_by: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_opened_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"


async def create_invite(
    engine: AsyncEngine,
    principal: Principal,
    application_id: str,
    *,
    ttl: timedelta,
    request_id: str | None = None,
) -> tuple[Invite, str]:
    """A new invite and its token. The token is returned once and never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = datetime.now(UTC)
    invite = Invite(
        id=str(uuid.uuid4()),
        application_id=application_id,
        created_by=principal.user_id or 0,
        created_at=now,
        expires_at=now + ttl,
        revoked_at=None,
        last_opened_at=None,
    )
    try:
        async with engine.begin() as conn:
            app = await load_visible(conn, principal, application_id)
            if principal.role is not Role.MANAGER:
                raise ActionForbidden("only the case's manager invites the applicant")
            await transition(conn, principal, app, Action.INVITE, request_id=request_id)
            await conn.execute(
                invites.insert().values(
                    id=invite.id,
                    application_id=application_id,
                    token_hash=hash_token(token),
                    created_by=invite.created_by,
                    created_at=now,
                    expires_at=invite.expires_at,
                )
            )
            await audit.append(
                conn,
                principal.actor,
                LoanAction.INVITE_CREATED,
                application_id=application_id,
                request_id=request_id,
                details={"invite_id": invite.id, "expires_at": audit_time(invite.expires_at)},
                at=now,
            )
    except ActionForbidden:
        await record_denial(
            engine,
            principal,
            "create invite",
            application_id=application_id,
            request_id=request_id,
        )
        raise
    return invite, token


def audit_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


async def list_invites(engine: AsyncEngine, application_id: str) -> list[Invite]:
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(invites)
                    .where(invites.c.application_id == application_id)
                    .order_by(invites.c.created_at.desc())
                )
            )
            .mappings()
            .all()
        )
    return [record_from_row(Invite, r) for r in rows]


async def revoke_invite(
    engine: AsyncEngine,
    principal: Principal,
    application_id: str,
    invite_id: str,
    *,
    request_id: str | None = None,
) -> Invite:
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await load_visible(conn, principal, application_id)
            if principal.role is not Role.MANAGER:
                raise ActionForbidden("only the case's manager revokes invites")
            row = (
                (
                    await conn.execute(
                        select(invites).where(
                            invites.c.id == invite_id,
                            invites.c.application_id == application_id,
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise InviteNotFound("no such invite for this application")
            invite = record_from_row(Invite, row)
            if invite.revoked_at is not None:
                return invite
            await conn.execute(
                invites.update().where(invites.c.id == invite_id).values(revoked_at=now)
            )
            await audit.append(
                conn,
                principal.actor,
                LoanAction.INVITE_REVOKED,
                application_id=application_id,
                request_id=request_id,
                details={"invite_id": invite_id},
                at=now,
            )
    except ActionForbidden:
        await record_denial(
            engine,
            principal,
            "revoke invite",
            application_id=application_id,
            request_id=request_id,
        )
        raise
    return replace(invite, revoked_at=now)


async def open_invite(engine: AsyncEngine, token: str, *, request_id: str | None = None) -> Invite:
    """The invite behind `token` if it can be used now; InviteUnusable otherwise.

    Every outcome is audited (links matching no invite up to
    ANONYMOUS_REFUSALS_AUDITED per window); the token itself never is.
    """
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        row = (
            (await conn.execute(select(invites).where(invites.c.token_hash == hash_token(token))))
            .mappings()
            .first()
        )
        reason: str | None = None
        invite = record_from_row(Invite, row) if row else None
        if invite is None:
            reason = "unknown"
        elif invite.status(now) != "active":
            reason = invite.status(now)
        else:
            app = await load(conn, invite.application_id)
            if app.state in CLOSED_FOR_APPLICANT:
                reason = f"application {app.state.value}"
        if reason is not None or invite is None:
            if (
                invite is not None
                or await audit.count_since(
                    conn, None, LoanAction.INVITE_REFUSED, now - REFUSALS_WINDOW
                )
                < ANONYMOUS_REFUSALS_AUDITED
            ):
                await audit.append(
                    conn,
                    audit.ANONYMOUS,
                    LoanAction.INVITE_REFUSED,
                    application_id=invite.application_id if invite else None,
                    request_id=request_id,
                    details={"reason": reason or "unknown"},
                    at=now,
                )
        else:
            await conn.execute(
                invites.update().where(invites.c.id == invite.id).values(last_opened_at=now)
            )
            await audit.append(
                conn,
                audit.Actor(f"applicant:{invite.application_id}", Role.APPLICANT.value),
                LoanAction.INVITE_OPENED,
                application_id=invite.application_id,
                request_id=request_id,
                details={"invite_id": invite.id},
                at=now,
            )
            return invite
    raise InviteUnusable("this link is not valid any more; ask your account manager for a new one")


async def invite_still_admits(conn: AsyncConnection, invite_id: str, now: datetime) -> bool:
    """Whether a session opened with this invite may go on: the invite is neither
    revoked nor expired nor replaced by a newer one for the case, and the case is
    still open to its applicant."""
    row = (
        (
            await conn.execute(
                select(
                    invites.c.application_id,
                    invites.c.created_at,
                    invites.c.expires_at,
                    invites.c.revoked_at,
                    applications.c.state,
                )
                .select_from(invites.join(applications))
                .where(invites.c.id == invite_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        return False
    if State(row["state"]) in ENDS_APPLICANT_SESSIONS:
        return False
    newer = await conn.execute(
        select(invites.c.id)
        .where(
            invites.c.application_id == row["application_id"],
            invites.c.created_at > row["created_at"],
        )
        .limit(1)
    )
    return newer.first() is None
