"""Anchored audit log: signed, timestamped checkpoints over RFC 6962 Merkle trees.

A checkpoint commits to the first `tree_size` entries (their Merkle root, each leaf
being an entry's canonical content) and to the range since the previous checkpoint,
and names the chain head. The statement is sealed (CMS, with a signature timestamp)
by a sealer the caller supplies — the bank's seal and TSA — since this package
imports no feature package. Someone who rewrites the database can recompute every
entry hash, but not these signatures; checkpoints exported elsewhere also catch a
database rolled back to an older state.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from audit import merkle, tree
from audit.actions import AuditAction
from audit.chain import AuditEntry, canonical_json
from audit.errors import CheckpointContention
from audit.tree import leaf
from audit.verify import ChainVerdict, verify_log
from store.database import CHECKPOINT_LOCK_KEY, serialise
from store.schema import audit_checkpoints, audit_log

STATEMENT_TYPE = "signroom.audit-checkpoint/1"
# Sealing again after losing a race to another sealer; more than a few in a row
# means something seals in a loop.
MAX_ATTEMPTS = 5
# The entry each checkpoint appends to the log it has just sealed.

# Returns a DER CMS SignedData over the statement (detached, timestamped).
Sealer = Callable[[bytes], Awaitable[bytes]]
# Returns None when the CMS is a valid, trusted, timestamped seal over the statement.
SealCheck = Callable[[bytes, bytes], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    tree_size: int
    range_start: int
    tree_root: str
    range_root: str
    head_hash: str
    reason: str
    created_at: datetime
    statement: bytes
    signature: bytes

    def export(self, previous: Checkpoint | None, proof: Sequence[bytes]) -> dict[str, Any]:
        return {
            "statement": json.loads(self.statement),
            "statement_b64": base64.b64encode(self.statement).decode(),
            "signature_b64": base64.b64encode(self.signature).decode(),
            "previous_tree_size": previous.tree_size if previous else None,
            "consistency_proof": [p.hex() for p in proof],
        }


def statement(
    tree_size: int,
    tree_root: bytes,
    range_start: int,
    range_root: bytes,
    head_hash: str,
    created_at: datetime,
) -> bytes:
    return canonical_json(
        {
            "type": STATEMENT_TYPE,
            "tree_size": tree_size,
            "tree_root": tree_root.hex(),
            "range_start": range_start,
            "range_root": range_root.hex(),
            "head_hash": head_hash,
            "created_at": created_at.astimezone(UTC).isoformat(),
        }
    ).encode("utf-8")


def _row(row: Any) -> Checkpoint:
    return Checkpoint(
        row["tree_size"],
        row["range_start"],
        row["tree_root"],
        row["range_root"],
        row["head_hash"],
        row["reason"],
        row["created_at"],
        row["statement"].encode("utf-8"),
        base64.b64decode(row["signature"]),
    )


async def load_checkpoints(engine: AsyncEngine) -> list[Checkpoint]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size))
        ).mappings()
        return [_row(r) for r in rows]


async def make_checkpoint(
    engine: AsyncEngine, sealer: Sealer, reason: str, *, export_dir: Path | None = None
) -> Checkpoint | None:
    """Seal the log as it stands; None when nothing was appended since the last one.

    Sealing takes a while (the bank's seal and a timestamp) and runs outside any
    transaction, so two callers (the periodic loop, an export, another node) can
    seal at once. Each checkpoint must start where the newest one ended: the one
    that finds another written meanwhile starts again from it.
    """
    for _attempt in range(MAX_ATTEMPTS):
        sealed = await _seal_next(engine, sealer, reason)
        if sealed is None:
            return None
        checkpoint, previous, exported = sealed
        async with engine.begin() as conn:
            await serialise(conn, CHECKPOINT_LOCK_KEY)
            newest = (
                await conn.execute(select(func.max(audit_checkpoints.c.tree_size)))
            ).scalar_one()
            if newest != (previous.tree_size if previous else None):
                continue
            await _store(conn, checkpoint, exported)
        if export_dir is not None:
            write_export(export_dir, exported, checkpoint.tree_size)
        return checkpoint
    raise CheckpointContention(
        f"another checkpoint was sealed during each of {MAX_ATTEMPTS} attempts"
    )


async def newest_checkpoint(engine: AsyncEngine) -> Checkpoint | None:
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(audit_checkpoints)
                    .order_by(audit_checkpoints.c.tree_size.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
    return _row(row) if row else None


async def _seal_next(
    engine: AsyncEngine, sealer: Sealer, reason: str
) -> tuple[Checkpoint, Checkpoint | None, dict[str, Any]] | None:
    previous = await newest_checkpoint(engine)
    # The stored tree grows by the entries since the last extension; the roots
    # and the proof read O(log n) of its nodes (plus the range's own).
    async with engine.begin() as conn:
        await serialise(conn, CHECKPOINT_LOCK_KEY)
        newest = await audit.head(conn)
        if newest is None or (previous is not None and previous.tree_size >= newest[0]):
            return None
        size, head_hash = newest
        start = previous.tree_size + 1 if previous else 1
        await tree.extend(conn, size)
        tree_root, range_root = await tree.roots(conn, [(0, size), (start - 1, size)])
        proof = await tree.consistency_proof(conn, previous.tree_size, size) if previous else []
    now = datetime.now(UTC)
    text = statement(size, tree_root, start, range_root, head_hash, now)
    signature = await sealer(text)
    checkpoint = Checkpoint(
        size,
        start,
        tree_root.hex(),
        range_root.hex(),
        head_hash,
        reason,
        now,
        text,
        signature,
    )
    return checkpoint, previous, checkpoint.export(previous, proof)


async def _store(conn: AsyncConnection, checkpoint: Checkpoint, exported: dict[str, Any]) -> None:
    await conn.execute(
        audit_checkpoints.insert().values(
            tree_size=checkpoint.tree_size,
            range_start=checkpoint.range_start,
            tree_root=checkpoint.tree_root,
            range_root=checkpoint.range_root,
            head_hash=checkpoint.head_hash,
            reason=checkpoint.reason,
            statement=checkpoint.statement.decode("utf-8"),
            signature=base64.b64encode(checkpoint.signature).decode(),
            created_at=checkpoint.created_at,
        )
    )
    await audit.append(
        conn,
        audit.SYSTEM,
        AuditAction.CHECKPOINT,
        # The whole export document, so that the webhook event made from this
        # entry (audit.checkpoint) carries it to an outside archive over HTTP.
        details={
            "tree_size": checkpoint.tree_size,
            "tree_root": checkpoint.tree_root,
            "reason": checkpoint.reason,
            "export": exported,
        },
        at=checkpoint.created_at,
    )


def write_export(directory: Path, document: dict[str, Any], size: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{size:012d}.json"
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


async def checkpoints_due(
    engine: AsyncEngine,
    *,
    every_entries: int,
    every_seconds: float,
    session_actions: set[str],
    now: datetime | None = None,
) -> str | None:
    """Why a checkpoint is due now (entries, time, session_end), or None.

    The time rule bounds how long any entry waits unanchored: it counts from the
    oldest entry no checkpoint covers, not from the last checkpoint, so a fresh log's
    first entries are not sealed the moment they appear, ahead of the entry rule.
    """
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        last = (await conn.execute(select(func.max(audit_checkpoints.c.tree_size)))).scalar_one()
        covered = int(last or 0)
        # Each checkpoint's own entry follows it; alone it is not news.
        uncovered = (audit_log.c.seq > covered) & (audit_log.c.action != AuditAction.CHECKPOINT)
        new, oldest = (
            await conn.execute(
                select(func.count(), func.min(audit_log.c.at))
                .select_from(audit_log)
                .where(uncovered)
            )
        ).one()
        if not new:
            return None
        if new >= every_entries:
            return "entries"
        if (now - oldest).total_seconds() >= every_seconds:
            return "time"
        ended = (
            await conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(uncovered, audit_log.c.action.in_(session_actions))
            )
        ).scalar_one()
        return "session_end" if ended else None


# Verification --------------------------------------------------------------------


def anchored_problems(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    *,
    leaves: Sequence[bytes] | None = None,
    first_only: bool = False,
) -> list[str]:
    """What in `entries` contradicts the checkpoints' commitments (signatures aside).

    `leaves` may be given when the caller already has them; with `first_only` the
    check stops at the first checkpoint the entries contradict.
    """
    problems: list[str] = []
    hashed = list(leaves) if leaves is not None else [leaf(e) for e in entries]
    previous_size = 0
    for checkpoint in checkpoints:
        size, start = checkpoint.tree_size, checkpoint.range_start
        # A range that starts inside the previous one was sealed concurrently with
        # it (before make_checkpoint serialised, two could start from the same
        # checkpoint): both still commit to the whole tree, which is checked below.
        # Only a range that skips entries is a break in the anchoring.
        if not 1 <= start <= previous_size + 1 or size <= previous_size:
            problems.append(f"checkpoint {size} does not follow checkpoint {previous_size}")
        previous_size = size
        if size > len(hashed):
            problems.append(f"checkpoint {size} covers entries the log lacks ({len(hashed)})")
        elif merkle.root(hashed[:size]).hex() != checkpoint.tree_root:
            problems.append(f"entries 1..{size} differ from what checkpoint {size} sealed")
        elif merkle.root(hashed[start - 1 : size]).hex() != checkpoint.range_root:
            problems.append(f"entries {start}..{size} differ from checkpoint {size}")
        elif entries[size - 1].entry_hash != checkpoint.head_hash:
            problems.append(f"entry {size} is not the head checkpoint {size} named")
        if problems and first_only:
            return problems
    return problems


def statement_problems(checkpoint: Checkpoint) -> list[str]:
    """The stored columns must say what the sealed statement says."""
    try:
        sealed = json.loads(checkpoint.statement)
    except ValueError:
        return [f"checkpoint {checkpoint.tree_size}: statement unreadable"]
    expected = {
        "type": STATEMENT_TYPE,
        "tree_size": checkpoint.tree_size,
        "tree_root": checkpoint.tree_root,
        "range_start": checkpoint.range_start,
        "range_root": checkpoint.range_root,
        "head_hash": checkpoint.head_hash,
    }
    if {k: sealed.get(k) for k in expected} != expected:
        return [
            f"checkpoint {checkpoint.tree_size}: stored values differ from the sealed statement"
        ]
    return []


async def verify_checkpoints(
    entries: Sequence[AuditEntry], checkpoints: Sequence[Checkpoint], check: SealCheck
) -> list[str]:
    problems: list[str] = []
    for checkpoint in checkpoints:
        problems += statement_problems(checkpoint)
        problem = await check(checkpoint.statement, checkpoint.signature)
        if problem:
            problems.append(f"checkpoint {checkpoint.tree_size}: seal invalid: {problem}")
    return problems + anchored_problems(entries, checkpoints)


def export_problems(
    entries: Sequence[AuditEntry], directory: Path, *, sealed_yet: bool = True
) -> list[str]:
    """Compare the log with the newest checkpoint exported outside the database.
    With `sealed_yet` false (the database holds no checkpoint) an empty directory
    is what a new deployment has, not a problem."""
    files = sorted(directory.glob("checkpoint-*.json"))
    if not files:
        return [f"no exported checkpoints in {directory}"] if sealed_yet else []
    try:
        newest = json.loads(files[-1].read_text(encoding="utf-8"))
        sealed = json.loads(base64.b64decode(newest["statement_b64"]))
        size, root = int(sealed["tree_size"]), sealed["tree_root"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"{files[-1].name} unreadable: {exc}"]
    if len(entries) < size:
        return [
            f"the log has {len(entries)} entries but checkpoint {size} was exported: "
            "the database was rolled back or cut"
        ]
    leaves = [leaf(e) for e in entries[:size]]
    if merkle.root(leaves).hex() != root:
        return [f"entries 1..{size} differ from the exported checkpoint {size}"]
    return []


@dataclass(frozen=True, slots=True)
class LogReport:
    """The whole check `signroom audit verify` and /api/audit/verify make."""

    chain: ChainVerdict
    checkpoints: int
    newest_tree_size: int | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


async def verify_anchored_log(
    engine: AsyncEngine, check: SealCheck, exported: Path | None
) -> LogReport:
    """The chain, every checkpoint's seal, timestamp, roots and consistency, and (with
    `exported`) the log held against the newest checkpoint kept outside the database."""
    async with engine.connect() as conn:
        chain = await verify_log(conn)
        entries = [entry async for entry in audit.iter_entries(conn)]
    sealed = await load_checkpoints(engine)
    problems = await verify_checkpoints(entries, sealed, check) if sealed else []
    if exported is not None:
        problems += await asyncio.to_thread(
            export_problems, entries, exported, sealed_yet=bool(sealed)
        )
    return LogReport(chain, len(sealed), sealed[-1].tree_size if sealed else None, problems)
