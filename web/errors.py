"""HTTP API errors: each has a status, a stable `code` and a human `message`."""

from __future__ import annotations

from typing import Any

from cluster import errors as cluster
from compliance import errors as compliance
from errors import SignroomError
from integration import errors as integration
from interview import errors as interview
from kyc import errors as kyc
from live_identity import errors as live_identity
from loans import errors as loans
from signing import errors as signing
from store import errors as store
from web.auth import errors as auth


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


# Every domain error the API answers with, and its status: the most specific
# class in an error's hierarchy wins. A public code replaces the error's own
# where clients know the failure by a generic name. Errors not listed here (a
# broken audit log, an unsupported database) are the service's fault: a 500.
_STATUS: dict[type[SignroomError], tuple[int, str | None]] = {
    loans.LoanError: (400, None),
    loans.ApplicationNotFound: (404, None),
    loans.InviteNotFound: (404, None),
    loans.InvalidApplication: (422, None),
    loans.TransitionNotAllowed: (409, None),
    loans.ActionForbidden: (403, None),
    loans.InviteUnusable: (410, None),
    loans.ConsentRequired: (422, None),
    loans.BiometricConsentMissing: (409, None),
    loans.ConcurrentChange: (409, None),
    kyc.KycError: (422, None),
    kyc.TooLarge: (413, None),
    kyc.AttemptUsed: (409, None),
    kyc.ReadTimedOut: (503, None),
    kyc.WorkerFailed: (503, None),
    signing.SigningError: (503, None),
    signing.TooManyCodes: (429, None),
    signing.ContractConflict: (409, None),
    signing.RevocationRefused: (409, None),
    signing.CertificateRevoked: (409, None),
    signing.NotAGeneratedContract: (409, None),
    signing.CodeRejected: (422, None),
    signing.TemplateInvalid: (422, None),
    signing.PdfUnreadable: (422, None),
    signing.MarkInvalid: (422, None),
    interview.InterviewError: (409, None),
    interview.PageNotFound: (404, None),
    interview.PageUnavailable: (503, None),
    interview.MarkNotBase64: (422, None),
    live_identity.LiveIdentityError: (409, None),
    live_identity.BadCameraReport: (422, None),
    integration.DeliveryFailed: (502, None),
    integration.SubscriptionInvalid: (422, None),
    integration.SubscriptionNotFound: (404, None),
    compliance.EvidenceIncomplete: (409, None),
    compliance.SubjectRequestNotFound: (404, None),
    compliance.SubjectRequestClosed: (409, None),
    store.BlobNotFound: (404, "not_found"),
    store.InvalidDigest: (404, "not_found"),
    # Stored evidence that no longer hashes to its name: a reviewer must know.
    store.BlobCorrupt: (409, "evidence_altered"),
    store.BlobStoreUnavailable: (503, None),
    cluster.ClusterError: (503, None),
    cluster.PlacementLost: (409, None),
    auth.UserError: (422, None),
    auth.UserExists: (409, None),
    auth.UnknownUser: (404, None),
    auth.ApiKeyNotFound: (404, None),
}


def from_domain(exc: Exception) -> ApiError | None:
    """The API error a domain error stands for, or None if it is not one."""
    if not isinstance(exc, SignroomError):
        return None
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            status, public_code = _STATUS[cls]
            break
    else:
        return None
    error = ApiError(exc.message, details=exc.details or None)
    error.status = status
    error.code = public_code or exc.code
    return error
