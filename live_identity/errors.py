"""Errors of the live identity checks; each carries a machine-readable code."""

from __future__ import annotations

from errors import SignroomError


class LiveIdentityError(SignroomError):
    code = "live_identity_error"


class BadCameraReport(LiveIdentityError):
    code = "bad_camera_report"


class SessionBusy(LiveIdentityError):
    code = "verification_session_running"


class CheckRunning(LiveIdentityError):
    """A check is already running on this call."""

    code = "live_check_running"


class NoCall(LiveIdentityError):
    code = "no_call"
