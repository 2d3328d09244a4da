"""Workflow errors. Each carries a stable machine-readable `code`."""

from __future__ import annotations

from errors import SignroomError


class LoanError(SignroomError):
    code = "loan_error"


class ApplicationNotFound(LoanError):
    code = "application_not_found"


class InviteNotFound(LoanError):
    code = "invite_not_found"


class InvalidApplication(LoanError):
    """Input fails a business rule; `fields` names each bad field and why."""

    code = "invalid_application"

    @classmethod
    def for_fields(cls, fields: dict[str, str]) -> InvalidApplication:
        return cls("; ".join(f"{name}: {why}" for name, why in fields.items()), fields=fields)

    @property
    def fields(self) -> dict[str, str]:
        fields: dict[str, str] = self.details.get("fields", {})
        return fields


class TransitionNotAllowed(LoanError):
    """The action does not apply to the application's current state."""

    code = "transition_not_allowed"

    @classmethod
    def of(cls, state: str, action: str) -> TransitionNotAllowed:
        return cls(f"cannot {action} an application that is {state}", state=state, action=action)


class ActionForbidden(LoanError):
    """The principal may not take this action on this application."""

    code = "forbidden"


class InviteUnusable(LoanError):
    """The invite link is unknown, expired, revoked or its application is closed."""

    code = "invite_unusable"


class ConsentRequired(LoanError):
    code = "consent_required"


class BiometricConsentMissing(LoanError):
    """Face matching and liveness need the applicant's separate biometric consent;
    without it the manager confirms the identity on the call."""

    code = "biometric_consent_missing"


class ConcurrentChange(LoanError):
    """Someone else changed the application first; reload and retry."""

    code = "concurrent_change"
