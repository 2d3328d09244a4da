"""The stored audit log: appends, database-level refusal of changes, concurrent
writers, and tampering behind the application's back, on SQLite and PostgreSQL."""

import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit.chain import GENESIS_HASH, compute_entry_hash, hashed_fields
from audit.verify import verify_log
from tests.audit_support import ACTOR, behind_the_back, fill

REFUSED = (DBAPIError, IntegrityError)


async def verdict(engine: AsyncEngine) -> tuple[bool, int | None, int]:
    async with engine.connect() as conn:
        v = await verify_log(conn)
    return v.ok, v.first_broken_seq, v.entries_checked


async def test_appends_form_an_intact_chain(engine: AsyncEngine) -> None:
    await fill(engine, 5)
    assert await verdict(engine) == (True, None, 5)
    async with engine.connect() as conn:
        entries = [e async for e in audit.iter_entries(conn)]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
    assert entries[2].details == {"i": 2, "note": "第2条"}


async def test_entry_is_rolled_back_with_its_transaction(engine: AsyncEngine) -> None:
    await fill(engine, 1)

    async def failing_change() -> None:
        async with engine.begin() as conn:
            await audit.append(conn, ACTOR, "test.event")
            raise RuntimeError("the change it recorded failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    async with engine.connect() as conn:
        assert await audit.count(conn) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
    ],
)
async def test_database_refuses_update_and_delete(engine: AsyncEngine, statement: str) -> None:
    await fill(engine, 3)
    with pytest.raises(REFUSED):
        async with engine.begin() as conn:
            await conn.exec_driver_sql(statement)
    assert await verdict(engine) == (True, None, 3)


async def test_postgres_refuses_truncate(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    await fill(engine, 2)
    with pytest.raises(REFUSED):
        async with engine.begin() as conn:
            await conn.exec_driver_sql("TRUNCATE audit_log")


async def test_database_refuses_inserts_that_do_not_extend_the_head(engine: AsyncEngine) -> None:
    await fill(engine, 3)
    async with engine.connect() as conn:
        head = [e async for e in audit.iter_entries(conn)][-1]
    bad_rows = [
        (5, head.entry_hash),  # skips a sequence number
        (4, "f" * 64),  # links to something that is not the head
    ]
    for seq, prev in bad_rows:
        with pytest.raises(REFUSED):
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO audit_log (seq, at, actor, role, action, details, "
                        "prev_hash, entry_hash) VALUES (:seq, :at, 'x', 'x', 'x', '{}', :prev, :h)"
                    ),
                    {"seq": seq, "at": head.at.replace(tzinfo=None), "prev": prev, "h": "e" * 64},
                )
    assert await verdict(engine) == (True, None, 3)


async def test_concurrent_writers_never_fork_the_chain(engine: AsyncEngine) -> None:
    async def writer(n: int) -> None:
        for i in range(5):
            async with engine.begin() as conn:
                await audit.append(conn, ACTOR, "test.concurrent", details={"writer": n, "i": i})

    await asyncio.gather(*(writer(n) for n in range(8)))
    assert await verdict(engine) == (True, None, 40)


def _swap_sql(a: int, b: int) -> list[str]:
    cols = "at, actor, role, action, application_id, request_id, details, prev_hash, entry_hash"
    return [
        f"CREATE TEMPORARY TABLE swap AS SELECT seq, {cols} FROM audit_log WHERE seq IN ({a}, {b})",
        f"DELETE FROM audit_log WHERE seq IN ({a}, {b})",
        f"INSERT INTO audit_log (seq, {cols}) SELECT CASE seq WHEN {a} THEN {b} ELSE {a} END, "
        f"{cols} FROM swap",
    ]


Tamper = Callable[[AsyncEngine], Awaitable[None]]


async def edit_details(engine: AsyncEngine) -> None:
    await behind_the_back(
        engine, """UPDATE audit_log SET details = '{"i":4,"note":"forged"}' WHERE seq = 5"""
    )


async def edit_time(engine: AsyncEngine) -> None:
    await behind_the_back(
        engine,
        "UPDATE audit_log SET at = (SELECT at FROM audit_log WHERE seq = 1) WHERE seq = 5",
    )


async def delete_middle(engine: AsyncEngine) -> None:
    await behind_the_back(engine, "DELETE FROM audit_log WHERE seq = 5")


async def delete_and_renumber(engine: AsyncEngine) -> None:
    await behind_the_back(
        engine,
        "DELETE FROM audit_log WHERE seq = 5",
        "UPDATE audit_log SET seq = -(seq - 1) WHERE seq > 5",
        "UPDATE audit_log SET seq = -seq WHERE seq < 0",
    )


async def reorder(engine: AsyncEngine) -> None:
    await behind_the_back(engine, *_swap_sql(5, 6))


async def insert_forged(engine: AsyncEngine) -> None:
    """A well-formed entry with a correct hash slid in after entry 4, and the entry
    that followed re-linked to it."""
    async with engine.connect() as conn:
        entries = [e async for e in audit.iter_entries(conn)]
    prev = entries[3]
    fields = hashed_fields(
        seq=5,
        at=prev.at,
        actor="user:9",
        role="manager",
        action="forged",
        application_id="app-1",
        request_id=None,
        details={},
        prev_hash=prev.entry_hash,
    )
    forged_hash = compute_entry_hash(fields)
    at = prev.at.replace(tzinfo=None).isoformat(sep=" ")
    await behind_the_back(
        engine,
        "UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= 5",
        "UPDATE audit_log SET seq = -seq WHERE seq < 0",
        f"UPDATE audit_log SET prev_hash = '{forged_hash}' WHERE seq = 6",
        "INSERT INTO audit_log (seq, at, actor, role, action, application_id, details, "
        f"prev_hash, entry_hash) VALUES (5, '{at}', 'user:9', 'manager', 'forged', 'app-1', "
        f"'{{}}', '{prev.entry_hash}', '{forged_hash}')",
    )


async def insert_below_first(engine: AsyncEngine) -> None:
    await behind_the_back(
        engine,
        "INSERT INTO audit_log (seq, at, actor, role, action, details, prev_hash, entry_hash) "
        f"SELECT 0, at, 'x', 'x', 'x', '{{}}', '{'2' * 64}', '{'3' * 64}' FROM audit_log "
        "WHERE seq = 1",
    )


async def change_link(engine: AsyncEngine) -> None:
    await behind_the_back(engine, f"UPDATE audit_log SET prev_hash = '{'4' * 64}' WHERE seq = 5")


async def garble_details(engine: AsyncEngine) -> None:
    await behind_the_back(engine, "UPDATE audit_log SET details = 'not json' WHERE seq = 5")


@pytest.mark.parametrize(
    ("tamper", "first_broken"),
    [
        (edit_details, 5),
        (edit_time, 5),
        (delete_middle, 6),
        (delete_and_renumber, 5),
        (reorder, 5),
        (insert_forged, 6),
        (insert_below_first, 0),
        (change_link, 5),
        (garble_details, 5),
    ],
)
async def test_tampering_behind_the_back_is_caught_at_the_first_broken_entry(
    engine: AsyncEngine, tamper: Tamper, first_broken: int
) -> None:
    await fill(engine, 10)
    await tamper(engine)
    ok, broken_at, _checked = await verdict(engine)
    assert not ok
    assert broken_at == first_broken


async def test_cli_verify_exits_0_when_intact_and_1_naming_the_entry_when_broken(
    engine: AsyncEngine, database_url: str
) -> None:
    await fill(engine, 6)
    env = {**os.environ, "SIGNROOM_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "cli", "audit", "verify"]
    intact = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
    assert intact.returncode == 0, intact.stderr
    assert "intact: 6 entries" in intact.stdout
    await edit_details(engine)
    broken = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 1
    assert "broken at entry 5" in broken.stdout
    assert json.dumps("forged") not in broken.stdout


async def test_a_long_read_only_verification_does_not_stall_writers(
    engine: AsyncEngine,
) -> None:
    from store.database import read_only

    await fill(engine, 3)
    async with read_only(engine) as reader:
        # The reader holds an open transaction (a snapshot) while a writer commits.
        assert await audit.count(reader) == 3
        await asyncio.wait_for(fill(engine, 1), timeout=10)
        assert (await verify_log(reader)).ok
    assert await verdict(engine) == (True, None, 4)
