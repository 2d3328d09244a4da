"""Errors of the local servers."""

from __future__ import annotations

from errors import SignroomError


class ServerUnavailable(SignroomError):
    """A server could not be found or started; the message says what to install."""

    code = "server_unavailable"
