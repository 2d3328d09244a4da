"""Background rounds of database work that stop between rounds, never inside one.

Cancelling a task while it waits on the database makes SQLAlchemy terminate the
connection under it; with aiosqlite that close can wait forever on a worker
thread that has already gone, and the event loop then never shuts down (a CI run
hung on it). So a housekeeping loop is told to stop, finishes the round it is in,
and is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from store.leases import Lease

log = logging.getLogger(__name__)


class BackgroundRounds:
    """Run `work` every `interval` seconds in its own task until `stop()`.

    A round that raises is logged and the next one runs as planned: a database
    that is briefly away must not end the loop for the life of the process.
    With a `lease`, a round runs only on the node holding it: at most one node
    at a time does the work, and another takes over when that one dies.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[None]],
        interval: float,
        *,
        first_at_once: bool = False,
        lease: Lease | None = None,
    ) -> None:
        self.name = name
        self._work = work
        self._interval = interval
        self._first_at_once = first_at_once
        self._lease = lease
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the round in progress finish, then end the loop."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        if self._lease is not None:
            # Another node need not wait for it to run out.
            with contextlib.suppress(Exception):
                await self._lease.release()

    async def _run(self) -> None:
        if not self._first_at_once and await self._stopped_within(self._interval):
            return
        while True:
            try:
                await self._round()
            except Exception:
                log.exception("%s failed; retrying next round", self.name)
            if await self._stopped_within(self._interval):
                return

    async def _round(self) -> None:
        if self._lease is None:
            await self._work()
            return
        async with self._lease.held() as ours:
            if ours:
                await self._work()

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return self._stopping.is_set()
