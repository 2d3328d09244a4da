"""Workflow errors. Each carries a stable machine-readable `code`."""

from __future__ import annotations


class LoanError(Exception):
    code = "loan_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApplicationNotFound(LoanError):
    code = "application_not_found"


class InviteNotFound(LoanError):
    code = "invite_not_found"


class InvalidApplication(LoanError):
    """Input fails a business rule; `fields` names each bad field and why."""

    code = "invalid_application"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {why}" for name, why in fields.items()))
        self.fields = fields


class TransitionNotAllowed(LoanError):
    """The action does not apply to the application's current state."""

    code = "transition_not_allowed"

    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"cannot {action} an application that is {state}")
        self.state = state
        self.action = action


class ActionForbidden(LoanError):
    """The principal may not take this action on this application."""

    code = "forbidden"


class InviteUnusable(LoanError):
    """The invite link is unknown, expired, revoked or its application is closed."""

    code = "invite_unusable"


class ConsentRequired(LoanError):
    code = "consent_required"


class ConcurrentChange(LoanError):
    """Someone else changed the application first; reload and retry."""

    code = "concurrent_change"
