"""The audit actions compliance writes: one name each, for writers and readers alike."""

from enum import StrEnum


class ComplianceAction(StrEnum):
    # A closed case's data deleted at the end of its retention period.
    RETENTION_EXPIRED = "retention.expired"
    # An evidence package refused because a recording was missing or altered on disk.
    EVIDENCE_REFUSED = "evidence.refused"
