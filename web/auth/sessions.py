"""Server-side sessions for staff and applicants.

The cookie carries a random token; the database keeps only its SHA-256, the kind of
session, whom it belongs to, and a CSRF token. Sessions end after an idle timeout
and at an absolute lifetime, whichever comes first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from loans.access import Principal
from loans.invites import invite_still_admits
from loans.roles import Role
from store.schema import sessions, users

COOKIE_NAME = "signroom_session"
# Writing last_seen on every request would make every read a write.
TOUCH_INTERVAL = timedelta(seconds=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    principal: Principal
    csrf_token: str
    username: str | None
    display_name: str | None


class SessionStore:
    def __init__(self, engine: AsyncEngine, *, idle: timedelta, lifetime: timedelta) -> None:
        self.engine = engine
        self.idle = idle
        self.lifetime = lifetime

    async def start_staff(self, user_id: int) -> str:
        return await self._start("staff", user_id=user_id)

    async def start_applicant(self, application_id: str, invite_id: str) -> str:
        return await self._start("applicant", application_id=application_id, invite_id=invite_id)

    async def _start(
        self,
        kind: str,
        *,
        user_id: int | None = None,
        application_id: str | None = None,
        invite_id: str | None = None,
    ) -> str:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                sessions.insert().values(
                    id=_hash(token),
                    kind=kind,
                    user_id=user_id,
                    application_id=application_id,
                    invite_id=invite_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return token

    async def resolve(self, token: str) -> Session | None:
        """The live session for `token`, or None. One that ended (timed out, its user
        disabled, or for an applicant its invite no longer admitting them) is deleted."""
        if not token or len(token) > 128:
            return None
        session_id = _hash(token)
        now = datetime.now(UTC)
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(
                            sessions,
                            users.c.role,
                            users.c.disabled,
                            users.c.username,
                            users.c.display_name,
                        )
                        .select_from(sessions.outerjoin(users, sessions.c.user_id == users.c.id))
                        .where(sessions.c.id == session_id)
                    )
                )
                .mappings()
                .first()
            )
            ended = row is not None and (
                row["expires_at"] <= now
                or row["last_seen_at"] + self.idle <= now
                or row["disabled"]
                or (
                    row["kind"] == "applicant"
                    and not await invite_still_admits(conn, row["invite_id"], now)
                )
            )
        if row is None:
            return None
        if ended:
            await self.end(token)
            return None
        if now - row["last_seen_at"] >= TOUCH_INTERVAL:
            async with self.engine.begin() as conn:
                await conn.execute(
                    sessions.update().where(sessions.c.id == session_id).values(last_seen_at=now)
                )
        if row["kind"] == "applicant":
            principal = Principal(
                Role.APPLICANT,
                application_id=row["application_id"],
                invite_id=row["invite_id"],
            )
        else:
            principal = Principal(Role(row["role"]), user_id=row["user_id"])
        return Session(
            session_id, principal, row["csrf_token"], row["username"], row["display_name"]
        )

    async def end(self, token: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sessions.delete().where(sessions.c.id == _hash(token)))

    async def purge_expired(self) -> int:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sessions.delete().where(
                    (sessions.c.expires_at <= now) | (sessions.c.last_seen_at <= now - self.idle)
                )
            )
        return result.rowcount
