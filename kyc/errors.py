"""Errors raised by identity verification."""

from __future__ import annotations

from errors import SignroomError


class KycError(SignroomError):
    code = "kyc_error"


class UnreadableImage(KycError):
    """The bytes are not an image OpenCV can decode."""

    code = "unreadable_image"


class NoCjkFont(KycError):
    """No CJK font is installed for drawing specimen documents."""

    code = "no_cjk_font"


class RejectedUpload(KycError):
    code = "rejected_upload"


class UnsupportedType(RejectedUpload):
    code = "unsupported_type"


class TooLarge(RejectedUpload):
    code = "too_large"


class TooManyPixels(RejectedUpload):
    code = "too_many_pixels"


class TooSmall(RejectedUpload):
    code = "too_small"


class CorruptImage(RejectedUpload):
    code = "corrupt_image"


class ReadTimedOut(KycError):
    code = "read_timed_out"


class WorkerFailed(KycError):
    code = "worker_failed"


class NotEnoughFrames(KycError):
    code = "not_enough_frames"


class EngineUnavailable(KycError):
    """The configured engine or model cannot be loaded."""

    code = "face_engine_unavailable"


class NoUsableFace(KycError):
    code = "no_usable_face"


class AttemptUsed(KycError):
    code = "liveness_attempt_used"
