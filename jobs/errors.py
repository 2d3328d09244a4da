"""Errors of the job queue; the callers turn them into their own (kyc's
ReadTimedOut and WorkerFailed, signing's ValidationFailed) at once."""

from __future__ import annotations

from errors import SignroomError


class JobsError(SignroomError):
    code = "jobs_error"


class JobFailed(JobsError):
    """No result came: every try failed, the queue is unreachable, or (`timed_out`)
    no worker finished in the time the node waits."""

    code = "job_failed"

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message, timed_out=timed_out)
        self.timed_out = timed_out
