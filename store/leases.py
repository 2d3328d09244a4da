"""Leases: background work that at most one node does at a time.

A lease is a row naming its holder and when it runs out. A node takes it when it
is free or run out, renews it while it works, and gives it back after; a node
that dies simply stops renewing, and another takes over once the lease has run
out. The database decides, so this holds across nodes with nothing else shared.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import leases


class Lease:
    def __init__(
        self, engine: AsyncEngine, name: str, holder: str, ttl: timedelta = timedelta(seconds=30)
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.ttl = ttl

    async def acquire(self) -> bool:
        """Take or renew the lease; False while another holder's is in force."""
        now = datetime.now(UTC)
        until = now + self.ttl
        try:
            async with self.engine.begin() as conn:
                row = (
                    await conn.execute(
                        select(leases.c.holder, leases.c.expires_at)
                        .where(leases.c.name == self.name)
                        .with_for_update()
                    )
                ).first()
                if row is None:
                    await conn.execute(
                        leases.insert().values(name=self.name, holder=self.holder, expires_at=until)
                    )
                    return True
                if row.holder != self.holder and row.expires_at > now:
                    return False
                await conn.execute(
                    update(leases)
                    .where(leases.c.name == self.name)
                    .values(holder=self.holder, expires_at=until)
                )
                return True
        except IntegrityError:
            return False  # another node inserted it first

    async def release(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(leases).where(leases.c.name == self.name, leases.c.holder == self.holder)
            )

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """Yield whether the lease is ours; while it is, keep it renewed."""
        if not await self.acquire():
            yield False
            return
        stop = asyncio.Event()

        async def renew() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ttl.total_seconds() / 3):
                        await stop.wait()
                if stop.is_set():
                    return
                await self.acquire()

        renewing = asyncio.create_task(renew())
        try:
            yield True
        finally:
            stop.set()
            await asyncio.gather(renewing, return_exceptions=True)
