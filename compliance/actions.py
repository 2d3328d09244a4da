"""The audit actions compliance writes: one name each, for writers and readers alike."""

from enum import StrEnum


class ComplianceAction(StrEnum):
    # A closed case's data deleted at the end of its retention period.
    RETENTION_EXPIRED = "retention.expired"
    # An evidence package refused because a recording was missing or altered on disk.
    EVIDENCE_REFUSED = "evidence.refused"
    # A package left the bank: compliance's evidence, or an applicant's own data
    # (a subject access request). Retention keeps their copies as long as the case.
    EVIDENCE_EXPORTED = "evidence.exported"
    PERSONAL_DATA_EXPORTED = "personal_data.exported"
    # A reviewer played a call recording.
    RECORDING_VIEWED = "recording.viewed"
