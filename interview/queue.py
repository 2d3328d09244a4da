"""Applicants waiting for their call, in the database: every node's console shows
the same queue, and a node that restarts loses nobody's place."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from audit.log import Actor
from media.actions import CallAction
from store.schema import call_queue


class WaitingQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def join(
        self, application_id: str, actor: Actor, request_id: str | None = None
    ) -> datetime:
        """Since when the applicant waits; their first join is an audit entry."""
        now = datetime.now(UTC)
        try:
            async with self.engine.begin() as conn:
                since = await self._since(conn, application_id)
                if since is not None:
                    return since
                await conn.execute(
                    call_queue.insert().values(application_id=application_id, since=now)
                )
                await audit.append(
                    conn,
                    actor,
                    CallAction.QUEUED,
                    application_id=application_id,
                    request_id=request_id,
                )
        except IntegrityError:
            # Two joins at once (a double tap): the first one's place stands.
            async with self.engine.connect() as conn:
                since = await self._since(conn, application_id)
            if since is None:
                raise
            return since
        return now

    async def leave(self, application_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(call_queue).where(call_queue.c.application_id == application_id)
            )

    async def waiting(self) -> dict[str, datetime]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(call_queue).order_by(call_queue.c.since))).all()
        return {row.application_id: row.since for row in rows}

    @staticmethod
    async def _since(conn: AsyncConnection, application_id: str) -> datetime | None:
        since: datetime | None = (
            await conn.execute(
                select(call_queue.c.since).where(call_queue.c.application_id == application_id)
            )
        ).scalar_one_or_none()
        return since
