"""Why an interview step was refused: each error carries a stable `code`."""

from __future__ import annotations

from errors import SignroomError


class InterviewError(SignroomError):
    code = "interview_error"


class StepRefused(InterviewError):
    """The interview is not at the step the request is for."""

    code = "conflict"


class NotInInterview(StepRefused):
    code = "not_in_interview"


class PagesUnread(StepRefused):
    code = "pages_unread"


class IdentityUnverified(StepRefused):
    code = "identity_unverified"


class LiveRecheckRequired(StepRefused):
    """The identity rests on an uploaded clip: the manager re-checks on the call."""

    code = "live_recheck_required"


class LivenessRequired(StepRefused):
    """No passed liveness check since the contract was shown."""

    code = "liveness_required"


class AlreadySigned(StepRefused):
    code = "already_signed"


class NotSigned(StepRefused):
    code = "not_signed"


class ContractClosed(StepRefused):
    """The contract is signed, superseded or failed: it takes no more signatures."""

    code = "contract_closed"


class ContractBusy(StepRefused):
    """Another request is completing the contract's bank steps right now."""

    code = "contract_busy"


class PageNotFound(InterviewError):
    code = "not_found"


class PageUnavailable(InterviewError):
    """pdftoppm failed to draw a page: worth retrying."""

    code = "not_ready"


class MarkNotBase64(InterviewError):
    code = "validation_failed"
