"""Login throttling: too many failures for one username or one client address within a
window blocks further attempts for that key until the window has passed.

Failures are kept in the database so that the limit holds across restarts and nodes.
Keys are hashed: the table holds no usernames or addresses in clear.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

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

    async def retry_after(self, keys: list[str]) -> int:
        """Seconds until any of `keys` may try again; 0 when none is blocked."""
        now = datetime.now(UTC)
        since = now - self.window
        async with self.engine.connect() as conn:
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

    async def record_failure(self, keys: list[str]) -> None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(login_failures.insert(), [{"key": k, "at": now} for k in keys])

    async def clear(self, keys: list[str]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(login_failures.delete().where(login_failures.c.key.in_(keys)))
