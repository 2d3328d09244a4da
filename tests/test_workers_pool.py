"""The worker pool: the timeout counts only the work, a call past it ends its own
worker and nobody else's, errors come back as they were raised, and workers die
with the process that started them, even when it is killed outright."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.workers_support import sleep_then_pid
from workers.errors import WorkTimedOut
from workers.pool import BoundedPool


def refuse(message: str) -> None:
    raise ValueError(message)


def pool(processes: int, timeout: float) -> BoundedPool:
    return BoundedPool(processes=processes, timeout_seconds=timeout, memory_limit_bytes=1024**3)


async def test_waiting_for_a_worker_does_not_count_against_the_timeout() -> None:
    workers = pool(1, timeout=1.5)
    try:
        await workers.run(sleep_then_pid, 0)  # started and ready
        # Three calls of 0.8 s on one worker: the last waits 1.6 s, more than its
        # timeout, before it starts, and still succeeds.
        pids = await asyncio.gather(*(workers.run(sleep_then_pid, 0.8) for _ in range(3)))
        assert len(set(pids)) == 1
    finally:
        workers.close()


async def test_a_call_past_its_timeout_ends_only_its_own_worker() -> None:
    workers = pool(2, timeout=1.0)
    try:
        first, second = await asyncio.gather(
            workers.run(sleep_then_pid, 0.2), workers.run(sleep_then_pid, 0.2)
        )
        assert first != second
        stuck = asyncio.ensure_future(workers.run(sleep_then_pid, 30))
        await asyncio.sleep(0.1)
        # The other worker keeps serving while the stuck one runs out its time.
        others = [await workers.run(sleep_then_pid, 0.1) for _ in range(3)]
        with pytest.raises(WorkTimedOut):
            await stuck
        survivor = others[0]
        assert set(others) == {survivor} and survivor in (first, second)
        ended = first if survivor == second else second
        for _ in range(50):
            try:
                os.kill(ended, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the timed-out worker is still running")
        # Its replacement starts, and both work again.
        pids = set(await asyncio.gather(*(workers.run(sleep_then_pid, 0.3) for _ in range(2))))
        assert survivor in pids and ended not in pids and len(pids) == 2
    finally:
        workers.close()


async def test_errors_come_back_as_raised_and_the_worker_stays() -> None:
    workers = pool(1, timeout=10)
    try:
        before = await workers.run(sleep_then_pid, 0)
        with pytest.raises(ValueError, match="not a card"):
            await workers.run(refuse, "not a card")
        assert await workers.run(sleep_then_pid, 0) == before
    finally:
        workers.close()


PARENT = """
import asyncio, sys
from workers.pool import BoundedPool
from tests.workers_support import sleep_then_pid

async def main():
    workers = BoundedPool(processes=2, timeout_seconds=60, memory_limit_bytes=1024**3)
    pids = await asyncio.gather(*(workers.run(sleep_then_pid, 0.2) for _ in range(2)))
    print(" ".join(map(str, pids)), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_workers_die_with_a_server_killed_outright(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        alive = list(pids)
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _running(pid)]
            time.sleep(0.1)
        assert alive == [], "workers outlived the server"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waits only for its (dead) parent's reaper: it runs nothing.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"
