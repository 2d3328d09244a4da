"""The audit actions of identity verification."""

from enum import StrEnum


class KycAction(StrEnum):
    DOCUMENT_READ = "kyc.document_read"
    FACE_MATCH = "kyc.face_match"
    LIVENESS_ISSUED = "kyc.liveness_issued"
    LIVENESS = "kyc.liveness"
    # The manager confirmed the identity on the recorded call (no face match).
    CONFIRMED_ON_CALL = "kyc.confirmed_on_call"
    # An identity platform or business registry answered about a document.
    SOURCE_CHECKED = "kyc.source_checked"
    # A document held up to the camera on the call, read and compared with the
    # uploaded photo's reading (live_identity/document_check.py).
    DOCUMENT_SHOWN = "kyc.document_shown"
    # A reviewer asked to see the full ID number (shown masked otherwise).
    ID_REVEALED = "kyc.id_revealed"
    # A reviewer opened a document image or snapshot.
    EVIDENCE_VIEWED = "kyc.evidence_viewed"
