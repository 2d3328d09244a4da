"""Expiring invited applications whose every invite has lapsed or been revoked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Exists, exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from loans.access import SYSTEM_PRINCIPAL
from loans.applications import load, transition
from loans.errors import ConcurrentChange, TransitionNotAllowed
from loans.states import Action, State
from store.schema import applications, invites


def _usable_invite(application_id: Any, now: datetime) -> Exists:
    return exists().where(
        invites.c.application_id == application_id,
        invites.c.revoked_at.is_(None),
        invites.c.expires_at > now,
    )


async def expire_lapsed(engine: AsyncEngine, *, now: datetime | None = None) -> int:
    """Move each invited application with no usable invite to `expired`; return how many."""
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        candidates = (
            (
                await conn.execute(
                    select(applications.c.id).where(
                        applications.c.state == State.INVITED.value,
                        ~_usable_invite(applications.c.id, now),
                    )
                )
            )
            .scalars()
            .all()
        )
    expired = 0
    for app_id in candidates:
        try:
            async with engine.begin() as conn:
                # An invite may have been issued since the scan.
                if (await conn.execute(select(_usable_invite(app_id, now)))).scalar():
                    continue
                app = await load(conn, app_id)
                await transition(conn, SYSTEM_PRINCIPAL, app, Action.EXPIRE)
            expired += 1
        except (ConcurrentChange, TransitionNotAllowed):
            continue  # moved on meanwhile; nothing to expire
    return expired
