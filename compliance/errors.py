"""Errors of the compliance package."""

from __future__ import annotations

from errors import SignroomError


class ComplianceError(SignroomError):
    code = "compliance_error"


class EvidenceIncomplete(ComplianceError):
    """What the audit log names is missing or altered on disk: no package is made."""

    code = "evidence_incomplete"


class SubjectRequestNotFound(ComplianceError):
    code = "subject_request_not_found"


class SubjectRequestClosed(ComplianceError):
    """The request was answered already: it is carried out once."""

    code = "subject_request_closed"
