"""Audit log cost: chained appends against plain inserts of the same rows,
verification speed, and inclusion proofs for an evidence package, on the embedded
SQLite database.

Each append runs in its own transaction (as the application does); the baseline
inserts the same rows, one transaction each, into a table with the same columns but
no chain, no triggers and no lock. The ratio is what the chain costs.

Proofs: one application's entries (a tenth of a larger log) get their inclusion
proofs from the stored tree (audit/tree.py), against the baseline of what exports
did before it: read the whole log, hash every leaf, build each proof from the
leaves in memory.

    python -m benchmarks.bench_audit [--entries N] [--proof-log N]
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
from audit import merkle, tree
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


async def proofs(engine: AsyncEngine, size: int) -> tuple[int, float, float, float]:
    """(entries proven, baseline s, stored-tree extension s, stored-tree proofs s)."""
    async with engine.begin() as conn:
        for i in range(size):
            owner = "case" if i % 10 == 0 else f"other-{i % 7}"
            await audit.append(conn, ACTOR, "applicant.device_check", application_id=owner)
    async with engine.connect() as conn:
        own = await audit.entries_for_application(conn, "case", limit=size)
    indices = [e.seq - 1 for e in own]

    start = time.perf_counter()
    async with engine.connect() as conn:
        every = [e async for e in audit.iter_entries(conn)]
    leaves = [tree.leaf(e) for e in every]
    old = [merkle.inclusion_proof(i, leaves) for i in indices]
    baseline_s = time.perf_counter() - start

    start = time.perf_counter()
    await tree.ensure(engine, len(every))
    extend_s = time.perf_counter() - start
    start = time.perf_counter()
    async with engine.connect() as conn:
        new = await tree.inclusion_proofs(conn, indices, len(every))
    stored_s = time.perf_counter() - start
    if [new[i] for i in indices] != old:
        raise SystemExit("stored-tree proofs differ from the in-memory ones")
    return len(indices), baseline_s, extend_s, stored_s


async def main(entries: int, proof_log: int) -> str:
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
        proven, baseline_s, extend_s, stored_s = await proofs(engine, proof_log)
        await engine.dispose()
    if not verdict.ok or verdict.entries_checked != 2 * half:
        raise SystemExit(f"benchmark log did not verify: {verdict.describe()}")
    total = 2 * half
    return (
        f"bench-audit: entries={total} append_per_s={total / chained:.0f} "
        f"baseline_insert_per_s={total / base:.0f} append_cost_ratio={chained / base:.2f} "
        f"verify_per_s={total / verify_s:.0f} proof_log={proof_log + total} "
        f"proofs={proven} proofs_baseline_s={baseline_s:.2f} tree_extend_s={extend_s:.2f} "
        f"proofs_stored_s={stored_s:.2f} proofs_speedup={baseline_s / stored_s:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=4000)
    parser.add_argument("--proof-log", type=int, default=8000)
    arguments = parser.parse_args()
    print(asyncio.run(main(arguments.entries, arguments.proof_log)))
