"""The audit actions of the HTTP side: sign-in, API use and staff accounts."""

from enum import StrEnum


class WebAction(StrEnum):
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_THROTTLED = "auth.login_throttled"
    LOGOUT = "auth.logout"
    # One per call with an API key, whatever its outcome.
    API_CALL = "api.call"
    USER_CREATED = "user.created"
    USER_PASSWORD_CHANGED = "user.password_changed"  # noqa: S105 (an action name)
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
