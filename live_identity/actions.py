"""Audit actions of the live identity checks."""

from __future__ import annotations

from enum import StrEnum


class LiveIdentityAction(StrEnum):
    # A verification session ended without a verdict (the connection went, no
    # video came): no attempt is used, nothing of the media is kept.
    SESSION_INTERRUPTED = "kyc.live_session_interrupted"
    # A check on the call ended without a verdict (the call ended, no video).
    CALL_CHECK_INTERRUPTED = "kyc.call_check_interrupted"
