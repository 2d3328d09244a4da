"""HTTP API errors: each has a status, a stable `code` and a human `message`."""

from __future__ import annotations

from typing import Any

from compliance.evidence import EvidenceIncomplete
from integration import notify
from interview import errors as interview_errors
from kyc import errors as kyc_errors
from kyc import intake, records, workers
from loans import errors as loan_errors
from signing import errors as signing_errors
from signing import records as signing_records
from signing import workers as signing_workers
from signing.contract import appearance
from store import errors as store_errors


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self, request_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        if request_id:
            body["request_id"] = request_id
        return body


class BadRequest(ApiError):
    pass


class InvalidJson(ApiError):
    code = "invalid_json"


class ValidationFailed(ApiError):
    status = 422
    code = "validation_failed"


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"


class LoginFailed(ApiError):
    status = 401
    code = "login_failed"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class CsrfFailed(ApiError):
    status = 403
    code = "csrf_failed"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Gone(ApiError):
    status = 410
    code = "gone"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(ApiError):
    status = 503
    code = "not_ready"


_INTERVIEW_STATUS: dict[type[interview_errors.InterviewError], int] = {
    interview_errors.StepRefused: 409,
    interview_errors.PageNotFound: 404,
    interview_errors.PageUnavailable: 503,
    interview_errors.MarkNotBase64: 422,
}

_LOAN_STATUS: dict[type[loan_errors.LoanError], int] = {
    loan_errors.ApplicationNotFound: 404,
    loan_errors.InviteNotFound: 404,
    loan_errors.InvalidApplication: 422,
    loan_errors.TransitionNotAllowed: 409,
    loan_errors.ActionForbidden: 403,
    loan_errors.InviteUnusable: 410,
    loan_errors.ConsentRequired: 422,
    loan_errors.ConcurrentChange: 409,
}


def _signing_status(exc: signing_errors.SigningError) -> int:
    if isinstance(
        exc,
        signing_errors.TimestampUnavailable
        | signing_errors.SealUnavailable
        | signing_errors.PkiUnavailable
        | signing_workers.ValidationFailed,
    ):
        return 503
    if isinstance(exc, notify.DeliveryFailed):
        return 502
    if isinstance(exc, signing_records.TooManyCodes):
        return 429
    if isinstance(
        exc,
        signing_records.ContractConflict
        | signing_records.RevocationRefused
        | signing_errors.CertificateRevoked
        | signing_errors.NotAGeneratedContract,
    ):
        return 409
    if isinstance(
        exc,
        signing_records.CodeRejected
        | signing_errors.TemplateInvalid
        | signing_errors.PdfUnreadable
        | appearance.MarkInvalid,
    ):
        return 422
    return 503


def from_domain(exc: Exception) -> ApiError | None:
    """The API error a domain error stands for, or None if it is not one."""
    if isinstance(exc, loan_errors.LoanError):
        status = _LOAN_STATUS.get(type(exc), 400)
        details: dict[str, Any] | None = None
        if isinstance(exc, loan_errors.InvalidApplication):
            details = {"fields": exc.fields}
        elif isinstance(exc, loan_errors.TransitionNotAllowed):
            details = {"state": exc.state, "action": exc.action}
        error = ApiError(exc.message, details=details)
        error.status = status
        error.code = exc.code
        return error
    if isinstance(exc, kyc_errors.KycError):
        status = 503 if isinstance(exc, workers.ReadTimedOut | workers.WorkerFailed) else 422
        if isinstance(exc, intake.TooLarge):
            status = 413
        if isinstance(exc, records.AttemptUsed):
            status = 409
        kyc_error = ApiError(str(exc))
        kyc_error.status = status
        kyc_error.code = exc.code
        return kyc_error
    if isinstance(exc, signing_errors.SigningError):
        signing_error = ApiError(str(exc), details={"step": exc.step} if exc.step else None)
        signing_error.status = _signing_status(exc)
        signing_error.code = exc.code
        return signing_error
    if isinstance(exc, interview_errors.InterviewError):
        interview_error = ApiError(exc.message)
        interview_error.status = _INTERVIEW_STATUS.get(type(exc), 409)
        interview_error.code = exc.code
        return interview_error
    if isinstance(exc, store_errors.BlobNotFound | store_errors.InvalidDigest):
        return NotFound(str(exc))
    if isinstance(exc, EvidenceIncomplete):
        refused = Conflict(str(exc))
        refused.code = "evidence_incomplete"
        return refused
    return None
