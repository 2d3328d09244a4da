"""Errors of reading the service's settings."""

from __future__ import annotations

from errors import SignroomError


class ConfigError(SignroomError):
    """A setting is missing, malformed or out of range."""

    code = "config_error"
