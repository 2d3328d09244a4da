"""The audit actions of a video call: one name each, for the call that reports them,
the review timeline and the webhook events that read them."""

from enum import StrEnum


class CallAction(StrEnum):
    QUEUED = "call.queued"
    # Read by the review timeline as the call's start; no writer records it today
    # (a call's start shows as its participants' joins).
    STARTED = "call.started"
    JOINED = "call.joined"
    CONNECTED = "call.connected"
    DROPPED = "call.dropped"
    REJOINED = "call.rejoined"
    RECONNECT_REQUESTED = "call.reconnect_requested"
    CODEC_MISMATCH = "call.codec_mismatch"
    QUALITY_CHANGED = "call.quality_changed"
    SNAPSHOT = "call.snapshot"
    SEGMENT_RECORDED = "call.segment_recorded"
    RECORDING_FAILED = "call.recording_failed"
    ENDED = "call.ended"


class InterviewAction(StrEnum):
    """What the interview records around the call itself."""

    # The applicant's camera and microphone check before joining.
    DEVICE_CHECKED = "applicant.device_checked"
    # The manager's interview checklist, ticked during the call.
    CHECKLIST = "interview.checklist"
