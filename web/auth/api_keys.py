"""API keys for machine clients (`/api/v1`).

A key acts for one manager account (applications it creates are that manager's,
and it sees what that manager sees), limited further by its scopes. The key is
shown once; the database keeps its prefix (to find it) and a SHA-256 of the whole
key. Revoked keys, and keys of disabled accounts, stop working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from loans.roles import Role
from store.schema import api_keys, users
from web.actions import WebAction
from web.auth.errors import ApiKeyNotFound, ApiKeyRefused

KEY_PREFIX = "srk_"


class Scope(StrEnum):
    APPLICATIONS_READ = "applications:read"
    APPLICATIONS_WRITE = "applications:write"
    INVITES_WRITE = "invites:write"
    KYC_READ = "kyc:read"
    CONTRACTS_READ = "contracts:read"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    scopes: frozenset[Scope]
    user_id: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": sorted(s.value for s in self.scopes),
            "user_id": self.user_id,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "revoked_at": self.revoked_at.isoformat(timespec="seconds")
            if self.revoked_at
            else None,
            "last_used_at": (
                self.last_used_at.isoformat(timespec="seconds") if self.last_used_at else None
            ),
        }


def _key(row: Any) -> ApiKey:
    return ApiKey(
        row["id"],
        row["name"],
        row["prefix"],
        frozenset(Scope(s) for s in json.loads(row["scopes"])),
        row["user_id"],
        row["created_by"],
        row["created_at"],
        row["revoked_at"],
        row["last_used_at"],
    )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(
    engine: AsyncEngine,
    actor: audit.Actor,
    *,
    name: str,
    scopes: set[Scope],
    username: str,
    request_id: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the manager `username`; the plain key is returned only here."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ApiKeyRefused("a key needs a name of 1 to 100 characters")
    if not scopes:
        raise ApiKeyRefused("a key needs at least one scope")
    prefix = secrets.token_hex(6)
    plain = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    key_id = str(uuid.uuid4())
    async with engine.begin() as conn:
        owner = (
            (await conn.execute(select(users).where(users.c.username == username)))
            .mappings()
            .first()
        )
        if owner is None or owner["role"] != Role.MANAGER.value or owner["disabled"]:
            raise ApiKeyRefused("a key acts for an enabled manager account")
        await conn.execute(
            api_keys.insert().values(
                id=key_id,
                name=name,
                prefix=prefix,
                key_hash=_digest(plain),
                scopes=json.dumps(sorted(s.value for s in scopes)),
                user_id=owner["id"],
                created_by=actor.id,
                created_at=now,
            )
        )
        await audit.append(
            conn,
            actor,
            WebAction.API_KEY_CREATED,
            request_id=request_id,
            details={
                "key_id": key_id,
                "name": name,
                "prefix": prefix,
                "scopes": sorted(s.value for s in scopes),
                "user_id": owner["id"],
            },
            at=now,
        )
    key = ApiKey(key_id, name, prefix, frozenset(scopes), owner["id"], actor.id, now, None, None)
    return key, plain


async def list_keys(engine: AsyncEngine) -> list[ApiKey]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created_at))).mappings()
        return [_key(row) for row in rows]


async def revoke_key(
    engine: AsyncEngine, actor: audit.Actor, key_id: str, *, request_id: str | None = None
) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        result = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if result.rowcount != 1:
            raise ApiKeyNotFound("no such active key")
        await audit.append(
            conn,
            actor,
            WebAction.API_KEY_REVOKED,
            request_id=request_id,
            details={"key_id": key_id},
        )


async def authenticate(engine: AsyncEngine, presented: str) -> ApiKey | None:
    """The key for `presented`, if it is well formed, known, live and its owner enabled."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    prefix, _, rest = presented[len(KEY_PREFIX) :].partition("_")
    if not rest:
        return None
    async with engine.begin() as conn:
        row = (
            (
                await conn.execute(
                    select(api_keys, users.c.disabled)
                    .join(users, users.c.id == api_keys.c.user_id)
                    .where(api_keys.c.prefix == prefix)
                )
            )
            .mappings()
            .first()
        )
        if row is None or not hmac.compare_digest(row["key_hash"], _digest(presented)):
            return None
        if row["revoked_at"] is not None or row["disabled"]:
            return None
        await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == row["id"])
            .values(last_used_at=datetime.now(UTC))
        )
    return _key(row)
