"""The audit actions the audit package itself writes."""

from enum import StrEnum


class AuditAction(StrEnum):
    # A signed tree head over the log so far (audit/checkpoints.py).
    CHECKPOINT = "audit.checkpoint"
