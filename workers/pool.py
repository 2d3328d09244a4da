"""A process pool whose workers have an address-space limit and whose calls have a timeout.

A call that runs past its timeout has its pool torn down and replaced (a stuck
worker never returns; ending the processes is the only way out), so one
pathological input cannot hold a worker forever or exhaust the host.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


class WorkTimedOut(Exception):
    """The call ran past its timeout; its worker was ended."""


class WorkerCrashed(Exception):
    """The worker died (out of memory, a crash in native code)."""


def _limit_memory(memory_limit_bytes: int, initializer: Callable[[], None] | None) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    if initializer is not None:
        initializer()


class BoundedPool:
    def __init__(
        self,
        *,
        processes: int,
        timeout_seconds: float,
        memory_limit_bytes: int,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self.processes = processes
        self.timeout = timeout_seconds
        self.memory_limit = memory_limit_bytes
        self._initializer = initializer
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                # spawn: the parent runs threads (database drivers), which fork
                # would copy in whatever state they were in.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory,
                initargs=(self.memory_limit, self._initializer),
            )
        return self._pool

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), function, *args)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            self._discard()
            raise WorkTimedOut from None
        except (BrokenProcessPool, MemoryError):
            self._discard()
            raise WorkerCrashed from None

    def _discard(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
