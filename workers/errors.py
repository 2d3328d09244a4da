"""Why a call into a worker process returned no result."""

from __future__ import annotations

from errors import SignroomError


class WorkerPoolError(SignroomError):
    code = "worker_pool_error"


class WorkTimedOut(WorkerPoolError):
    """The call ran past its timeout; its worker was ended."""

    code = "work_timed_out"


class WorkerCrashed(WorkerPoolError):
    """The worker died (out of memory, a crash in native code)."""

    code = "worker_crashed"
