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

log = logging.getLogger(__name__)


class BackgroundRounds:
    """Run `work` every `interval` seconds in its own task until `stop()`.

    A round that raises is logged and the next one runs as planned: a database
    that is briefly away must not end the loop for the life of the process.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[None]],
        interval: float,
        *,
        first_at_once: bool = False,
    ) -> None:
        self.name = name
        self._work = work
        self._interval = interval
        self._first_at_once = first_at_once
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the round in progress finish, then end the loop."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        if not self._first_at_once and await self._stopped_within(self._interval):
            return
        while True:
            try:
                await self._work()
            except Exception:
                log.exception("%s failed; retrying next round", self.name)
            if await self._stopped_within(self._interval):
                return

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return self._stopping.is_set()
