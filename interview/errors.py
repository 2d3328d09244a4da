"""Why an interview step was refused: each error carries a stable `code`."""

from __future__ import annotations


class InterviewError(Exception):
    code: str = "interview_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class StepRefused(InterviewError):
    """The interview is not at the step the request is for (pages unread, not signed...)."""

    code = "conflict"


class PageNotFound(InterviewError):
    code = "not_found"


class PageUnavailable(InterviewError):
    """pdftoppm failed to draw a page: worth retrying."""

    code = "not_ready"


class MarkNotBase64(InterviewError):
    code = "validation_failed"
