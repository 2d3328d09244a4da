"""Errors of the live identity checks; each carries a machine-readable code."""

from __future__ import annotations

from errors import SignroomError


class LiveIdentityError(SignroomError):
    code = "live_identity_error"


class BadCameraReport(LiveIdentityError):
    code = "bad_camera_report"


class SessionBusy(LiveIdentityError):
    code = "verification_session_running"
