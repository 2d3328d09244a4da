"""The audit actions of a video call: one name each, for the call that reports them,
the review timeline and the webhook events that read them."""

from enum import StrEnum


class CallAction(StrEnum):
    QUEUED = "call.queued"
    # The call placed on a node (cluster/placement.py): its start, and the node
    # and epoch it ran under.
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
    # Several nodes: the hosting node stopped heartbeating and the call moved to
    # another; a node being drained handed its call over; what had been uploaded
    # of the segment open on a lost node, stored as its recording.
    NODE_LOST = "call.node_lost"
    MOVED = "call.moved"
    SEGMENT_RECOVERED = "call.segment_recovered"


# The audit entries that name a recording: a segment closed whole, and the part of
# one that was being written on a node that died.
RECORDING_ACTIONS = (CallAction.SEGMENT_RECORDED, CallAction.SEGMENT_RECOVERED)


class InterviewAction(StrEnum):
    """What the interview records around the call itself."""

    # The applicant's camera and microphone check before joining.
    DEVICE_CHECKED = "applicant.device_checked"
    # The manager's interview checklist, ticked during the call.
    CHECKLIST = "interview.checklist"
