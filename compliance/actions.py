"""The audit actions compliance writes: one name each, for writers and readers alike."""

from enum import StrEnum


class ComplianceAction(StrEnum):
    # A closed case's data deleted at the end of its retention period.
    RETENTION_EXPIRED = "retention.expired"
    # Personal data deleted before its retention ended: biometric data when the
    # applicant withdrew that consent, or what an erasure request named.
    PERSONAL_DATA_DELETED = "personal_data.deleted"
    # A data subject's request (access, correction, deletion, withdrawal) recorded
    # as a task with its due date, and carried out.
    SUBJECT_REQUEST_RECORDED = "subject_request.recorded"
    SUBJECT_REQUEST_COMPLETED = "subject_request.completed"
    # An evidence package refused because a recording was missing or altered on disk.
    EVIDENCE_REFUSED = "evidence.refused"
    # A package left the bank: compliance's evidence, or an applicant's own data
    # (a subject access request). Retention keeps their copies as long as the case.
    EVIDENCE_EXPORTED = "evidence.exported"
    PERSONAL_DATA_EXPORTED = "personal_data.exported"
    # A reviewer played a call recording.
    RECORDING_VIEWED = "recording.viewed"


# Entries whose listed files were deleted on purpose: a package made later may
# name them as expired.
DELETIONS = frozenset({ComplianceAction.RETENTION_EXPIRED, ComplianceAction.PERSONAL_DATA_DELETED})
