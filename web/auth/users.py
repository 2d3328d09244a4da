"""Staff accounts: creation, password changes, disabling. Every change is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from loans.roles import STAFF_ROLES, Role
from store.schema import sessions, users
from web.actions import WebAction
from web.auth.errors import InvalidUser, UnknownUser, UserExists
from web.auth.passwords import hash_password, password_problem

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    password_hash: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> User:
        m = row._mapping
        return cls(
            m["id"],
            m["username"],
            m["display_name"],
            Role(m["role"]),
            m["disabled"],
            m["password_hash"],
            m["created_at"],
        )


def _check(username: str, display_name: str, role: str, password: str) -> None:
    problems: dict[str, str] = {}
    if not _USERNAME.fullmatch(username):
        problems["username"] = "2-64 characters: lowercase letters, digits, '.', '_', '-'"
    if not 1 <= len(display_name.strip()) <= 100:
        problems["display_name"] = "1-100 characters"
    if role not in {r.value for r in STAFF_ROLES}:
        problems["role"] = "one of manager, compliance, admin"
    if problem := password_problem(password):
        problems["password"] = problem
    if problems:
        raise InvalidUser("; ".join(f"{k}: {v}" for k, v in problems.items()))


async def create_user(
    engine: AsyncEngine,
    actor: audit.Actor,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    request_id: str | None = None,
) -> User:
    _check(username, display_name, role, password)
    password_hash = await hash_password(password)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                users.insert()
                .values(
                    username=username,
                    display_name=display_name.strip(),
                    role=role,
                    password_hash=password_hash,
                    disabled=False,
                    created_at=now,
                    password_changed_at=now,
                )
                .returning(users.c.id)
            )
            user_id = result.scalar_one()
            await audit.append(
                conn,
                actor,
                WebAction.USER_CREATED,
                request_id=request_id,
                details={"user_id": user_id, "username": username, "role": role},
                at=now,
            )
    except IntegrityError:
        raise UserExists(f"a user named {username!r} exists already") from None
    return User(user_id, username, display_name.strip(), Role(role), False, password_hash, now)


async def get_user(
    engine: AsyncEngine, *, user_id: int | None = None, username: str | None = None
) -> User | None:
    query = select(users)
    if user_id is not None:
        query = query.where(users.c.id == user_id)
    else:
        query = query.where(users.c.username == username)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return User.from_row(row) if row else None


async def list_users(engine: AsyncEngine) -> list[User]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(users).order_by(users.c.username))).all()
    return [User.from_row(r) for r in rows]


async def set_password(
    engine: AsyncEngine,
    actor: audit.Actor,
    username: str,
    password: str,
    *,
    request_id: str | None = None,
) -> None:
    if problem := password_problem(password):
        raise InvalidUser(f"password: {problem}")
    password_hash = await hash_password(password)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        user_id = (
            await conn.execute(select(users.c.id).where(users.c.username == username))
        ).scalar()
        if user_id is None:
            raise UnknownUser(f"no user named {username!r}")
        await conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, password_changed_at=now)
        )
        # Sessions opened with the old password end with it.
        await conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
        await audit.append(
            conn,
            actor,
            WebAction.USER_PASSWORD_CHANGED,
            request_id=request_id,
            details={"user_id": user_id, "username": username},
            at=now,
        )


async def set_disabled(
    engine: AsyncEngine,
    actor: audit.Actor,
    username: str,
    disabled: bool,
    *,
    request_id: str | None = None,
) -> None:
    async with engine.begin() as conn:
        user_id = (
            await conn.execute(select(users.c.id).where(users.c.username == username))
        ).scalar()
        if user_id is None:
            raise UnknownUser(f"no user named {username!r}")
        await conn.execute(users.update().where(users.c.id == user_id).values(disabled=disabled))
        if disabled:
            await conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
        await audit.append(
            conn,
            actor,
            WebAction.USER_DISABLED if disabled else WebAction.USER_ENABLED,
            request_id=request_id,
            details={"user_id": user_id, "username": username},
        )
