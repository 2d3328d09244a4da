"""The node's side: identity checks sent as jobs, their results awaited.

Inputs go to the blob store (every worker reaches it), the job carries their
digests, and the node waits for the job's row in `job_results`, which a worker
writes before arq counts the job done. A job that arq finishes without a stored
result (every try failed) or that takes longer than the node will wait fails
the request with the same errors the local worker processes give.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job, JobStatus
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs import results
from jobs.checks import (
    Check,
    CheckRequest,
    liveness_args,
    read_document_args,
    validate_args,
)
from jobs.errors import JobFailed
from jobs.serialization import FUNCTION, QUEUE_NAME, WORKER_KEY, from_json, to_json
from kyc.errors import ReadTimedOut, WorkerFailed
from kyc.liveness import Challenge
from kyc.workers import DocumentKind, Expectations, LivenessResult, SelfieResult, UploadResult
from signing.errors import ValidationFailed
from store.background import BackgroundRounds
from store.blobs import BlobStore

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1


class JobQueue:
    def __init__(
        self, redis_url: str, engine: AsyncEngine, blobs: BlobStore, *, wait: timedelta
    ) -> None:
        self.redis_url = redis_url
        self.engine = engine
        self.blobs = blobs
        self.wait = wait
        self.workers_seen: list[str] = []
        self._problem = "not started"
        self._pool: ArqRedis | None = None
        self._watch = BackgroundRounds(
            "job workers seen", self._look_for_workers, 2.0, first_at_once=True
        )

    async def start(self) -> None:
        self._pool = await create_pool(
            RedisSettings.from_dsn(self.redis_url),
            job_serializer=to_json,
            job_deserializer=from_json,
            default_queue_name=QUEUE_NAME,
        )
        self._watch.start()

    async def close(self) -> None:
        await self._watch.stop()
        if self._pool is not None:
            await self._pool.aclose()

    async def run(self, check: Check, inputs: dict[str, bytes], args: dict[str, Any]) -> object:
        """The check's result, computed by some worker; its domain error re-raised."""
        if self._pool is None:
            raise JobFailed("the job queue is not started")
        digests = {name: await self.blobs.put(data) for name, data in inputs.items()}
        request = CheckRequest(check, digests, args)
        job_id = f"{check.value}:{uuid.uuid4().hex}"
        try:
            try:
                job = await self._pool.enqueue_job(FUNCTION, request.payload(), _job_id=job_id)
            except (RedisError, OSError) as exc:
                raise JobFailed(f"the job queue is unreachable ({type(exc).__name__})") from None
            if job is None:
                raise JobFailed("the job could not be queued")
            result = await self._result(job, job_id)
        finally:
            # Uploads as sent (metadata and all) and liveness clips: kept no longer
            # than their check. A job still running after its wait ran out finds
            # its input gone and fails; the applicant was told to try again.
            for digest in set(digests.values()):
                await self.blobs.delete(digest)
        if result.outcome == results.ERROR and isinstance(result.value, Exception):
            raise result.value
        return result.value

    async def _result(self, job: Job, job_id: str) -> results.JobResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait.total_seconds()
        next_status = loop.time() + 1.0
        while True:
            found = await results.load(self.engine, job_id)
            if found is not None:
                return found
            now = loop.time()
            if now > deadline:
                raise JobFailed("no worker finished the check in time", timed_out=True)
            if now > next_status:
                next_status = now + 1.0
                try:
                    finished = await job.status() is JobStatus.complete
                except (RedisError, OSError):
                    finished = False  # Redis away for a moment: the job goes on
                if finished and await results.load(self.engine, job_id) is None:
                    raise JobFailed("every try of the check failed")
            await asyncio.sleep(POLL_SECONDS)

    async def _look_for_workers(self) -> None:
        if self._pool is None:
            return
        try:
            keys = [key async for key in self._pool.scan_iter(match=WORKER_KEY + "*")]
        except (RedisError, OSError) as exc:
            self.workers_seen = []
            self._problem = f"Redis unreachable ({type(exc).__name__})"
            return
        self.workers_seen = sorted(
            (k.decode() if isinstance(k, bytes) else str(k)).removeprefix(WORKER_KEY) for k in keys
        )
        self._problem = "" if self.workers_seen else "no signroom worker seen"

    def status(self) -> dict[str, Any]:
        if self._problem:
            return {"ok": False, "where": "job queue", "problem": self._problem}
        return {"ok": True, "where": "job queue", "workers": self.workers_seen}


class QueuedIdentityChecks:
    """IdentityChecks done by `signroom worker`s."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def read(
        self, kind: DocumentKind, data: bytes, *, today: date, expect: Expectations
    ) -> UploadResult:
        result = await self._run(
            Check.READ_DOCUMENT, {"data": data}, read_document_args(kind, today, expect)
        )
        assert isinstance(result, UploadResult)
        return result

    async def match_face(self, id_front_image: bytes, selfie: bytes) -> SelfieResult:
        result = await self._run(
            Check.MATCH_FACE, {"id_front": id_front_image, "selfie": selfie}, {}
        )
        assert isinstance(result, SelfieResult)
        return result

    async def check_liveness(
        self,
        video: bytes,
        id_front_image: bytes,
        challenges: list[Challenge],
        *,
        lead_in: float,
        window: float,
    ) -> LivenessResult:
        result = await self._run(
            Check.LIVENESS,
            {"video": video, "id_front": id_front_image},
            liveness_args(challenges, lead_in, window),
        )
        assert isinstance(result, LivenessResult)
        return result

    async def _run(self, check: Check, inputs: dict[str, bytes], args: dict[str, Any]) -> object:
        try:
            return await self.queue.run(check, inputs, args)
        except JobFailed as exc:
            log.warning("identity check %s failed: %s", check.value, exc)
            if exc.timed_out:
                raise ReadTimedOut("the check took too long; please try again") from None
            raise WorkerFailed("the upload could not be processed; please try again") from None

    def status(self) -> dict[str, Any]:
        return self.queue.status()

    def close(self) -> None:
        return None  # the queue is closed with the node's services


class QueuedValidation:
    """PdfValidator done by `signroom worker`s."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def validate(
        self,
        pdf: bytes,
        roots_der: list[bytes],
        *,
        at: datetime | None = None,
        allow_fetching: bool = False,
    ) -> dict[str, Any]:
        try:
            report = await self.queue.run(
                Check.VALIDATE_PDF, {"pdf": pdf}, validate_args(roots_der, at, allow_fetching)
            )
        except JobFailed:
            raise ValidationFailed("the document could not be validated now; try again") from None
        assert isinstance(report, dict)
        return report

    def close(self) -> None:
        return None
