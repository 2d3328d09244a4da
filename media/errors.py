"""Errors of the media package: refused signalling messages and aiortc versions
whose private attributes the relay relies on are missing."""

from __future__ import annotations

from errors import SignroomError


class MediaError(SignroomError):
    code = "media_error"


class SignallingError(MediaError):
    """A client message that cannot be acted on; sent back to that client."""

    code = "signalling_error"

    def as_message(self) -> dict[str, str]:
        return {"type": "error", "code": self.code, "message": self.message}


class BadJson(SignallingError):
    code = "bad_json"


class UnknownType(SignallingError):
    code = "unknown_type"


class MessageTooLarge(SignallingError):
    code = "too_large"


class BadSdp(SignallingError):
    code = "bad_sdp"


class BadCandidate(SignallingError):
    code = "bad_candidate"


class TooManyCandidates(SignallingError):
    code = "too_many_candidates"


class NoOffer(SignallingError):
    code = "no_offer"


class NotJoined(SignallingError):
    code = "not_joined"


class CallEnded(SignallingError):
    code = "call_ended"


class NothingRecordable(MediaError):
    """Video arrived, but no key frame to start it and no audio: there is no file."""

    code = "nothing_recordable"


class RecordingNotStored(MediaError):
    """A complete segment could not be kept where the evidence lives."""

    code = "recording_not_stored"


class DirectPathUnavailable(MediaError):
    """The installed aiortc or aioice does not receive and send where expected."""

    code = "direct_path_unavailable"


class OutputUnavailable(MediaError):
    """The installed aiortc's sender cannot be fed RTP packets this way."""

    code = "output_unavailable"


class InterceptUnavailable(MediaError):
    """The installed aiortc does not hand packets over where expected."""

    code = "intercept_unavailable"
