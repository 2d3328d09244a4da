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
    # A reviewer asked to see the full ID number (shown masked otherwise).
    ID_REVEALED = "kyc.id_revealed"
    # A reviewer opened a document image or snapshot.
    EVIDENCE_VIEWED = "kyc.evidence_viewed"
