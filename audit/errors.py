"""Errors raised by the audit package."""

from __future__ import annotations

from errors import SignroomError


class AuditError(SignroomError):
    code = "audit_error"


class NonCanonicalDetails(AuditError):
    """Details hold a value with no single canonical encoding (a float, say)."""


class CheckpointContention(AuditError):
    """Other checkpoints kept being sealed while this one was: none was stored."""


class LogBroken(AuditError):
    """The log or its stored tree lacks what its sequence numbers promise."""
