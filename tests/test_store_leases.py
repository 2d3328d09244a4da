"""Leases and background rounds: at most one holder at a time, on both backends;
a holder that stops renewing is replaced once its lease runs out; stopping a
loop lets its round finish and hands the lease back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from store.background import BackgroundRounds
from store.leases import Lease


async def test_one_holder_at_a_time_and_a_lapsed_lease_changes_hands(engine: AsyncEngine) -> None:
    first = Lease(engine, "sweep", "node-a", ttl=timedelta(milliseconds=300))
    second = Lease(engine, "sweep", "node-b", ttl=timedelta(milliseconds=300))
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewed by its holder
    await asyncio.sleep(0.4)  # node-a died: nobody renews
    assert await second.acquire()
    assert not await first.acquire()
    await second.release()
    assert await first.acquire()


async def test_two_nodes_racing_for_a_new_lease_get_one_holder(engine: AsyncEngine) -> None:
    contenders = [Lease(engine, "race", f"node-{i}") for i in range(6)]
    won = await asyncio.gather(*(lease.acquire() for lease in contenders))
    assert sum(won) == 1


async def test_a_lease_held_during_long_work_is_renewed(engine: AsyncEngine) -> None:
    holder = Lease(engine, "long", "node-a", ttl=timedelta(milliseconds=300))
    other = Lease(engine, "long", "node-b", ttl=timedelta(milliseconds=300))
    async with holder.held() as ours:
        assert ours
        for _ in range(4):  # four times the lease's life
            await asyncio.sleep(0.3)
            assert not await other.acquire()


async def test_rounds_under_one_lease_run_on_one_node_and_stop_between_rounds(
    engine: AsyncEngine,
) -> None:
    ran: list[str] = []
    finished: list[str] = []

    def work(node: str) -> Callable[[], Awaitable[None]]:
        async def round_() -> None:
            ran.append(node)
            await asyncio.sleep(0.05)
            finished.append(node)

        return round_

    loops = [
        BackgroundRounds(
            f"job on {node}",
            work(node),
            0.02,
            first_at_once=True,
            lease=Lease(engine, "job", node, ttl=timedelta(seconds=5)),
        )
        for node in ("node-a", "node-b")
    ]
    for loop in loops:
        loop.start()
    await asyncio.sleep(0.5)
    # Told together: one stopping loop hands the lease back, and the other would
    # rightly take it over if it were still running.
    await asyncio.gather(*(loop.stop() for loop in loops))
    assert len(set(ran)) == 1, ran
    assert ran == finished  # every round that began also ended: none was cancelled
    # Stopped, the holder gave the lease back: the other node may take it at once.
    assert await Lease(engine, "job", "node-c").acquire()


async def test_a_failing_round_is_logged_and_the_loop_goes_on(engine: AsyncEngine) -> None:
    attempts = 0

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("database briefly away")

    loop = BackgroundRounds("flaky", flaky, 0.01, first_at_once=True)
    loop.start()
    await asyncio.sleep(0.2)
    await loop.stop()
    assert attempts >= 3
