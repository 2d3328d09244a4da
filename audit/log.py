"""Appending to and reading the audit log.

`append` takes the caller's connection so that an entry is written in the same
transaction as the change it records: both land or neither does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    canonical_json,
    compute_entry_hash,
    hashed_fields,
)
from store.database import lock_audit_chain
from store.schema import audit_log


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: `id` like "user:3", "applicant:<application>", "system", "cli"."""

    id: str
    role: str


SYSTEM = Actor("system", "system")
ANONYMOUS = Actor("anonymous", "anonymous")


async def append(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    *,
    application_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry at the head of the chain, inside the caller's transaction."""
    details_dict = dict(details or {})
    details_text = canonical_json(details_dict)
    await lock_audit_chain(conn)
    newest = await head(conn)
    seq, prev_hash = (newest[0] + 1, newest[1]) if newest else (1, GENESIS_HASH)
    at = at or datetime.now(UTC)
    fields = hashed_fields(
        seq=seq,
        at=at,
        actor=actor.id,
        role=actor.role,
        action=action,
        application_id=application_id,
        request_id=request_id,
        details=details_dict,
        prev_hash=prev_hash,
    )
    entry_hash = compute_entry_hash(fields)
    await conn.execute(
        audit_log.insert().values(
            seq=seq,
            at=at,
            actor=actor.id,
            role=actor.role,
            action=action,
            application_id=application_id,
            request_id=request_id,
            details=details_text,
            prev_hash=prev_hash,
            entry_hash=entry_hash,
        )
    )
    return AuditEntry(
        seq=seq,
        at=at,
        actor=actor.id,
        role=actor.role,
        action=action,
        application_id=application_id,
        request_id=request_id,
        details=details_dict,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
    )


def entry_from_row(row: RowMapping | Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        role=row["role"],
        action=row["action"],
        application_id=row["application_id"],
        request_id=row["request_id"],
        details=json.loads(row["details"]),
        prev_hash=row["prev_hash"],
        entry_hash=row["entry_hash"],
    )


async def iter_rows(conn: AsyncConnection, *, batch_size: int = 1000) -> AsyncIterator[RowMapping]:
    """Every stored row in sequence order, read in batches.

    The first batch has no lower bound so that a row smuggled in below seq 1 is
    seen by the verifier too.
    """
    last: int | None = None
    while True:
        query = select(audit_log).order_by(audit_log.c.seq).limit(batch_size)
        if last is not None:
            query = query.where(audit_log.c.seq > last)
        rows = (await conn.execute(query)).mappings().all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1]["seq"]


async def iter_entries(
    conn: AsyncConnection, *, batch_size: int = 1000
) -> AsyncIterator[AuditEntry]:
    """Every entry in sequence order."""
    async for row in iter_rows(conn, batch_size=batch_size):
        yield entry_from_row(row)


async def entries_between(conn: AsyncConnection, after: int, through: int) -> list[AuditEntry]:
    """The entries with after < seq <= through, in sequence order."""
    rows = (
        (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.seq > after, audit_log.c.seq <= through)
                .order_by(audit_log.c.seq)
            )
        )
        .mappings()
        .all()
    )
    return [entry_from_row(row) for row in rows]


async def head(conn: AsyncConnection) -> tuple[int, str] | None:
    """The newest entry's sequence number and hash; None for an empty log."""
    row = (
        await conn.execute(
            select(audit_log.c.seq, audit_log.c.entry_hash)
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        )
    ).first()
    return (int(row.seq), str(row.entry_hash)) if row else None


async def entries_for_application(
    conn: AsyncConnection, application_id: str, *, limit: int = 500
) -> list[AuditEntry]:
    rows = (
        (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.application_id == application_id)
                .order_by(audit_log.c.seq)
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )
    return [entry_from_row(row) for row in rows]


async def count(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(audit_log))).scalar_one())


async def count_since(
    conn: AsyncConnection, application_id: str | None, action: str, since: datetime
) -> int:
    """How many `action` entries the application (None: no application) has had
    since `since`, for rate limits."""
    belongs = (
        audit_log.c.application_id.is_(None)
        if application_id is None
        else audit_log.c.application_id == application_id
    )
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(belongs, audit_log.c.action == action, audit_log.c.at > since)
            )
        ).scalar_one()
    )
