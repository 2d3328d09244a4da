"""Job results in the database: one row per job id, whoever stores it first.

A result is the check's return value or the domain error it raised (a photo that
cannot be read is an answer, not a failure), pickled: only the service's own
workers write this table, and the nodes read it back as the objects the local
worker processes would have returned.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import job_results

OK = "ok"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class JobResult:
    outcome: str
    value: object
    worker: str


async def store(
    engine: AsyncEngine, job_id: str, function: str, outcome: str, value: object, worker: str
) -> bool:
    """Store the job's result; False when one was stored already (a redelivered job)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(
                job_results.insert().values(
                    job_id=job_id,
                    function=function,
                    outcome=outcome,
                    result=pickle.dumps(value),
                    worker=worker,
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        return False
    return True


async def load(engine: AsyncEngine, job_id: str) -> JobResult | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(job_results.c.outcome, job_results.c.result, job_results.c.worker).where(
                    job_results.c.job_id == job_id
                )
            )
        ).first()
    if row is None:
        return None
    return JobResult(row.outcome, pickle.loads(row.result), row.worker)  # noqa: S301 - our workers wrote it
