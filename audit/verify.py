"""Recomputing the audit chain and naming the first entry that breaks it."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from audit.chain import GENESIS_HASH, AuditEntry, compute_entry_hash
from audit.errors import NonCanonicalDetails
from audit.log import entry_from_row, iter_rows


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    ok: bool
    entries_checked: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries_checked} entries, head {self.head_hash}"
        return f"audit chain broken at entry {self.first_broken_seq}: {self.reason}"


async def verify_entries(entries: AsyncIterable[AuditEntry]) -> ChainVerdict:
    """Check sequence numbers, links and hashes of `entries` given in stored order."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    async for entry in entries:
        problem = _problem(entry, expected_seq, prev_hash)
        if problem:
            return ChainVerdict(False, checked, prev_hash, entry.seq, problem)
        checked += 1
        expected_seq += 1
        prev_hash = entry.entry_hash
    return ChainVerdict(True, checked, prev_hash)


def _problem(entry: AuditEntry, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq != expected_seq:
        return f"sequence number {entry.seq} where {expected_seq} was expected"
    if entry.prev_hash != prev_hash:
        return "previous-hash link does not match the entry before it"
    try:
        recomputed = compute_entry_hash(entry.hashed_fields())
    except NonCanonicalDetails as exc:
        return f"details are not canonical: {exc}"
    if recomputed != entry.entry_hash:
        return "entry hash does not match the entry's contents"
    return None


async def verify_log(conn: AsyncConnection, *, batch_size: int = 1000) -> ChainVerdict:
    """Verify the stored log. A row whose details do not parse is the break."""

    async def entries() -> AsyncIterator[AuditEntry]:
        async for row in iter_rows(conn, batch_size=batch_size):
            try:
                yield entry_from_row(row)
            except ValueError:
                yield replace(entry_from_row({**row, "details": "{}"}), entry_hash="")

    return await verify_entries(entries())
