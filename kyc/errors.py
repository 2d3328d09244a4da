"""Errors raised by identity verification."""


class KycError(Exception):
    code = "kyc_error"


class UnreadableImage(KycError):
    """The bytes are not an image OpenCV can decode."""

    code = "unreadable_image"


class NoCjkFont(KycError):
    """No CJK font is installed for drawing specimen documents."""

    code = "no_cjk_font"
