"""Login throttling: too many failures for one username or one client address within a
window blocks further attempts for that key until the window has passed.

Failures are kept in the database so that the limit holds across restarts and nodes.
Keys are hashed: the table holds no usernames or addresses in clear.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.database import LOGIN_THROTTLE_LOCK_KEY, serialise
from store.schema import login_failures


def throttle_keys(username: str, client: str) -> list[str]:
    return [
        hashlib.sha256(f"user:{username.lower()}".encode()).hexdigest(),
        hashlib.sha256(f"addr:{client}".encode()).hexdigest(),
    ]


class LoginThrottle:
    def __init__(self, engine: AsyncEngine, *, max_failures: int, window: timedelta) -> None:
        self.engine = engine
        self.max_failures = max_failures
        self.window = window

    async def claim(self, keys: list[str]) -> tuple[int, list[int]]:
        """Take one attempt for `keys`: (0, its records) when allowed, else (seconds
        to wait, []). The attempt is counted as a failure from here on, in the same
        serialised transaction as the check, so parallel attempts cannot all pass
        the check before any failure is written; `succeeded` takes it back."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await serialise(conn, LOGIN_THROTTLE_LOCK_KEY)
            wait = await self._retry_after(conn, keys, now)
            if wait:
                return wait, []
            ids = []
            for key in keys:
                inserted = await conn.execute(
                    login_failures.insert().values(key=key, at=now).returning(login_failures.c.id)
                )
                ids.append(int(inserted.scalar_one()))
        return 0, ids

    async def _retry_after(self, conn: AsyncConnection, keys: list[str], now: datetime) -> int:
        since = now - self.window
        rows = (
            await conn.execute(
                select(login_failures.c.key, func.count(), func.min(login_failures.c.at))
                .where(login_failures.c.key.in_(keys), login_failures.c.at > since)
                .group_by(login_failures.c.key)
            )
        ).all()
        wait = 0
        for _key, failures, oldest in rows:
            if failures >= self.max_failures:
                oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
                wait = max(wait, int((oldest_at + self.window - now).total_seconds()) + 1)
        return wait

    async def succeeded(self, claimed: list[int], user_key: str) -> None:
        """The attempt was right: it is no failure, and the user's earlier ones are forgiven."""
        async with self.engine.begin() as conn:
            await conn.execute(
                login_failures.delete().where(
                    login_failures.c.id.in_(claimed) | (login_failures.c.key == user_key)
                )
            )
