"""The audit log's Merkle tree, stored as its complete subtrees.

Checkpoints and evidence packages need the tree's roots and proofs. Built from
the whole log each time they cost O(n) reads and hashes per export, which grows
with every entry anyone causes. Stored here, extending the tree reads only the
entries new since the last extension, and a root or a proof reads O(log n) nodes.

The rows are derived data: a database rewritten after the fact can change them
as easily as the entries, which is why verification (audit/checkpoints.py,
`anchored_problems`) recomputes everything from the entries and the sealed
checkpoints, never from this table. A proof made from a stored node that no
longer matches its entry simply fails to verify against the entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import merkle
from audit.chain import AuditEntry, canonical_json
from audit.errors import LogBroken, NonCanonicalDetails
from audit.log import entries_between
from store.database import CHECKPOINT_LOCK_KEY, serialise
from store.schema import audit_tree

# Entries hashed and stored per round when the tree catches up with a long log
# (the first checkpoint after an upgrade): bounds the memory of one round.
EXTEND_BATCH = 5_000
# Nodes asked for per query.
READ_BATCH = 500


def leaf(entry: AuditEntry) -> bytes:
    """An entry's leaf: its canonical content (the bytes its own hash is taken over)."""
    try:
        return merkle.leaf_hash(canonical_json(entry.hashed_fields()).encode("utf-8"))
    except NonCanonicalDetails:
        return merkle.leaf_hash(b"\xff not canonical")


def _leaves(entries: list[AuditEntry]) -> list[bytes]:
    return [leaf(e) for e in entries]


async def stored_size(conn: AsyncConnection) -> int:
    """How many leaves the stored tree holds."""
    count = (
        await conn.execute(
            select(func.count()).select_from(audit_tree).where(audit_tree.c.level == 0)
        )
    ).scalar_one()
    return int(count)


async def _read(conn: AsyncConnection, wanted: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    by_level: dict[int, list[int]] = {}
    for level, position in set(wanted):
        by_level.setdefault(level, []).append(position)
    found: dict[merkle.Node, bytes] = {}
    for level, positions in by_level.items():
        for i in range(0, len(positions), READ_BATCH):
            rows = await conn.execute(
                select(audit_tree.c.position, audit_tree.c.hash).where(
                    audit_tree.c.level == level,
                    audit_tree.c.position.in_(positions[i : i + READ_BATCH]),
                )
            )
            found.update({(level, int(r.position)): bytes.fromhex(r.hash) for r in rows})
    return found


async def extend(conn: AsyncConnection, size: int) -> None:
    """Store the nodes the first `size` entries complete that are not stored yet.

    The caller's transaction holds the checkpoint lock: two extensions at once
    would insert the same nodes.
    """
    stored = await stored_size(conn)
    while stored < size:
        through = min(size, stored + EXTEND_BATCH)
        entries = await entries_between(conn, stored, through)
        if [e.seq for e in entries] != list(range(stored + 1, through + 1)):
            raise LogBroken(f"the audit log lacks entries between {stored + 1} and {through}")
        leaves = await asyncio.to_thread(_leaves, entries)
        await _store_level(conn, stored, through, leaves)
        stored = through


async def _store_level(conn: AsyncConnection, old: int, new: int, leaves: list[bytes]) -> None:
    """Store leaves [old, new) and every parent they complete, level by level."""
    level, low, high, hashes = 0, old, new, leaves
    while hashes:
        await conn.execute(
            audit_tree.insert(),
            [{"level": level, "position": low + i, "hash": h.hex()} for i, h in enumerate(hashes)],
        )
        # Parents complete now: their right child is new. The first may need an
        # older left sibling, the only node of this level not in hand.
        parent_low, parent_high = low // 2, high // 2
        row = dict(zip(range(low, high), hashes, strict=True))
        if parent_low < parent_high and 2 * parent_low < low:
            sibling = (level, 2 * parent_low)
            found = await _read(conn, [sibling])
            if sibling not in found:
                raise LogBroken(f"the stored audit tree lacks node {sibling}")
            row[2 * parent_low] = found[sibling]
        hashes = [
            merkle.node_hash(row[2 * p], row[2 * p + 1]) for p in range(parent_low, parent_high)
        ]
        level, low, high = level + 1, parent_low, parent_high


async def ensure(engine: AsyncEngine, size: int) -> None:
    """Extend the stored tree to `size` leaves in a transaction of its own."""
    async with engine.begin() as conn:
        await serialise(conn, CHECKPOINT_LOCK_KEY)
        await extend(conn, size)


async def roots(conn: AsyncConnection, ranges: list[merkle.Range]) -> list[bytes]:
    """The roots over these leaf ranges, from the stored tree (which must cover them)."""
    wanted = [node for a, b in ranges for node in merkle.range_nodes(a, b)]
    nodes = await _read(conn, wanted)
    missing = set(wanted) - nodes.keys()
    if missing:
        raise LogBroken(f"the stored audit tree lacks {len(missing)} node(s) it should hold")
    return [merkle.range_root(a, b, nodes.__getitem__) for a, b in ranges]


async def inclusion_proofs(
    conn: AsyncConnection, indices: list[int], size: int
) -> dict[int, list[bytes]]:
    """Each leaf's audit path in the tree of the first `size` leaves."""
    paths = {index: merkle.inclusion_ranges(index, size) for index in indices}
    flat = await roots(conn, [r for path in paths.values() for r in path])
    proofs: dict[int, list[bytes]] = {}
    offset = 0
    for index, path in paths.items():
        proofs[index] = flat[offset : offset + len(path)]
        offset += len(path)
    return proofs


async def consistency_proof(conn: AsyncConnection, old_size: int, size: int) -> list[bytes]:
    return await roots(conn, merkle.consistency_ranges(old_size, size))
