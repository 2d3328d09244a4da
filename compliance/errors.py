"""Errors of the compliance package."""

from __future__ import annotations

from errors import SignroomError


class ComplianceError(SignroomError):
    code = "compliance_error"


class EvidenceIncomplete(ComplianceError):
    """What the audit log names is missing or altered on disk: no package is made."""

    code = "evidence_incomplete"
