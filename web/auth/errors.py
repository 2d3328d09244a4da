"""Errors of managing staff users."""

from __future__ import annotations

from errors import SignroomError


class UserError(SignroomError):
    code = "user_error"


class UserExists(UserError):
    code = "user_exists"


class UnknownUser(UserError):
    code = "user_not_found"


class InvalidUser(UserError):
    code = "invalid_user"


class ApiKeyRefused(UserError):
    """The key asked for cannot be issued (name, scopes, the account it acts for)."""

    code = "invalid_api_key_request"


class ApiKeyNotFound(UserError):
    code = "not_found"
