"""`signroom worker`: runs identity-check jobs from the queue.

One worker process holds the same bounded worker processes a node would (their
memory limit and timeout as today) and takes as many jobs at once as it has of
them. A job's result is stored before arq counts it done; a job delivered again
(its worker was killed) finds the result stored and does nothing, or runs again
when there is none. Failures that may pass (the blob store or the database away
for a moment, a check's worker process timing out) are retried with backoff; a
domain answer (a photo that cannot be read) is a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from arq import Retry
from arq.connections import RedisSettings
from arq.worker import Worker, func
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from errors import SignroomError
from jobs import checks, results
from jobs.serialization import FUNCTION, QUEUE_NAME, WORKER_KEY, from_json, to_json
from kyc.errors import ReadTimedOut, WorkerFailed
from kyc.workers import KycWorkers
from signing.errors import ValidationFailed
from signing.workers import ValidationWorkers
from store.blobs import BlobStore
from store.errors import StoreError

log = logging.getLogger(__name__)

MAX_TRIES = 3
# Failures that may pass if the job runs again later.
PASSING = (ReadTimedOut, WorkerFailed, ValidationFailed, StoreError, SQLAlchemyError, OSError)


@dataclass
class WorkerServices:
    engine: AsyncEngine
    blobs: BlobStore
    kyc: KycWorkers
    validation: ValidationWorkers
    worker_id: str


async def run_check(ctx: dict[str, Any], payload: dict[str, Any]) -> None:
    services: WorkerServices = ctx["signroom"]
    job_id: str = ctx["job_id"]
    job_try: int = ctx["job_try"]
    request = checks.CheckRequest.from_payload(payload)
    try:
        if await results.load(services.engine, job_id) is not None:
            log.info("job %s was done before; delivered again, nothing to do", job_id)
            return
        inputs = {name: await services.blobs.get(d) for name, d in request.blobs.items()}
        try:
            value: object = await checks.run(request, inputs, services.kyc, services.validation)
            outcome = results.OK
        except PASSING:
            raise
        except SignroomError as exc:
            value, outcome = exc, results.ERROR
        stored = await results.store(
            services.engine, job_id, request.check.value, outcome, value, services.worker_id
        )
    except PASSING as exc:
        delay = min(2**job_try, 30)
        log.warning(
            "job %s try %d failed (%s); again in %d s", job_id, job_try, type(exc).__name__, delay
        )
        raise Retry(defer=delay) from None
    if not stored:
        log.info("job %s had a result already; this run's is dropped", job_id)


async def run_worker(
    redis_url: str, services: WorkerServices, *, job_timeout: float, stop: asyncio.Event
) -> None:
    """Take jobs until `stop` is set. Redis going away ends arq's loop; the worker
    waits for it to come back and goes on, as a node does."""
    while not stop.is_set():
        worker = make_worker(redis_url, services, job_timeout=job_timeout)
        running = asyncio.create_task(worker.async_run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not running.done():
            # Jobs in progress go back to the queue and run again elsewhere.
            with contextlib.suppress(RedisError, OSError):
                await worker.close()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            return
        problem = running.exception()
        if problem is None:
            return
        if not isinstance(problem, RedisError | OSError):
            raise problem
        log.warning("the job queue's Redis went away (%s); waiting for it", type(problem).__name__)
        with contextlib.suppress(RedisError, OSError):
            await worker.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await stop.wait()


def make_worker(
    redis_url: str, services: WorkerServices, *, job_timeout: float, health_interval: float = 5.0
) -> Worker:
    return Worker(
        functions=[func(run_check, name=FUNCTION, timeout=job_timeout, max_tries=MAX_TRIES)],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=QUEUE_NAME,
        max_jobs=services.kyc.processes,
        ctx={"signroom": services},
        job_serializer=to_json,
        job_deserializer=from_json,
        keep_result=300,
        health_check_interval=health_interval,
        # arq looks for new jobs every half second by default: most of a read's time.
        poll_delay=0.05,
        health_check_key=WORKER_KEY + services.worker_id,
        handle_signals=False,
    )
