"""Audit log cost: chained appends against plain inserts of the same rows, and
verification speed, on the embedded SQLite database.

Each append runs in its own transaction (as the application does); the baseline
inserts the same rows, one transaction each, into a table with the same columns but
no chain, no triggers and no lock. The ratio is what the chain costs.

    python -m benchmarks.bench_audit [--entries N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit.chain import canonical_json
from audit.verify import verify_log
from store.database import create_engine
from store.migrate import upgrade
from store.types import UTCDateTime

ACTOR = audit.Actor("user:1", "manager")
DETAILS = {"action": "start_interview", "from": "identity_verified", "to": "in_interview"}

baseline_meta = MetaData()
baseline = Table(
    "baseline_log",
    baseline_meta,
    Column("seq", BigInteger, primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("application_id", String(36)),
    Column("request_id", String(64)),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)


async def run_baseline(engine: AsyncEngine, n: int, *, offset: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        async with engine.begin() as conn:
            await conn.execute(
                baseline.insert().values(
                    seq=offset + i + 1,
                    at=datetime.now(UTC),
                    actor=ACTOR.id,
                    role=ACTOR.role,
                    action="application.transition",
                    application_id="app",
                    request_id=None,
                    details=canonical_json(DETAILS),
                    prev_hash="0" * 64,
                    entry_hash="0" * 64,
                )
            )
    return time.perf_counter() - start


async def run_chained(engine: AsyncEngine, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        async with engine.begin() as conn:
            await audit.append(
                conn, ACTOR, "application.transition", application_id="app", details=DETAILS
            )
    return time.perf_counter() - start


async def main(entries: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.run_sync(baseline_meta.create_all)
        # Interleave halves so drift in machine load hits both sides alike.
        half = entries // 2
        base = await run_baseline(engine, half, offset=0)
        chained = await run_chained(engine, half)
        base += await run_baseline(engine, half, offset=half)
        chained += await run_chained(engine, half)
        start = time.perf_counter()
        async with engine.connect() as conn:
            verdict = await verify_log(conn)
        verify_s = time.perf_counter() - start
        await engine.dispose()
    if not verdict.ok or verdict.entries_checked != 2 * half:
        raise SystemExit(f"benchmark log did not verify: {verdict.describe()}")
    total = 2 * half
    return (
        f"bench-audit: entries={total} append_per_s={total / chained:.0f} "
        f"baseline_insert_per_s={total / base:.0f} append_cost_ratio={chained / base:.2f} "
        f"verify_per_s={total / verify_s:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=4000)
    print(asyncio.run(main(parser.parse_args().entries)))
