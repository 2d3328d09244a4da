"""The signalling protocol spoken over the call's WebSocket, and its validation.

Client to server (JSON objects, one per message):
  {"type": "offer", "sdp": "v=0..."}        start or restart this participant's
                                            connection (the browser gathers its ICE
                                            candidates first; aiortc does not trickle)
  {"type": "candidate", "candidate": {...}} a late remote candidate, after an offer
  {"type": "leave"}                         hang up (manager: ends the call)
  {"type": "ping"}

Server to client:
  {"type": "answer", "sdp": ...}
  {"type": "peer", "state": "waiting" | "connected" | "reconnecting" | "left"}
  {"type": "quality", "self": BADGE, "peer": BADGE, ...}
  {"type": "ended", "reason": ...}
  {"type": "reconnect", "reason": "video_codec"}
                                            offer again on a fresh connection: the
                                            other side can only send a video codec
                                            this one can too, but is not sending
  {"type": "error", "code": ..., "message": ...}

Anything else is answered with an error message and changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from media.errors import BadCandidate, BadJson, BadSdp, MessageTooLarge, UnknownType

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 48 * 1024
MAX_CANDIDATE_CHARS = 1024
# A browser gathers a handful of candidates per connection; more is a flood.
MAX_CANDIDATES = 64


@dataclass(frozen=True, slots=True)
class Offer:
    sdp: str


@dataclass(frozen=True, slots=True)
class Candidate:
    candidate: str  # empty: the end of candidates
    sdp_mid: str | None
    sdp_mline_index: int | None

    def __post_init__(self) -> None:
        if self.candidate:
            _check_candidate_line(self.candidate)


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Message = Offer | Candidate | Leave | Ping


def _sdp(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("v=0"):
        raise BadSdp("sdp must be a session description starting 'v=0'")
    if len(value) > MAX_SDP_CHARS:
        raise MessageTooLarge("the session description is too large")
    if "m=" not in value:
        raise BadSdp("the session description has no media")
    return value


def _candidate(value: Any) -> Candidate:
    if not isinstance(value, dict):
        raise BadCandidate("candidate must be an object")
    text = value.get("candidate")
    mid = value.get("sdpMid")
    index = value.get("sdpMLineIndex")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS:
        raise BadCandidate("candidate.candidate must be a short string")
    if mid is not None and not isinstance(mid, str):
        raise BadCandidate("candidate.sdpMid must be a string")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise BadCandidate("candidate.sdpMLineIndex must be an integer")
    return Candidate(text, mid, index)


def _check_candidate_line(text: str) -> None:
    """RFC 8839 section 5.1: foundation component transport priority address port
    typ type ... (aiortc's own parser only asserts, so it must never see bad ones)."""
    bits = text.removeprefix("candidate:").split()
    valid = (
        len(bits) >= 8
        and bits[1].isdigit()
        and bits[2].lower() in {"udp", "tcp"}
        and bits[3].isdigit()
        and _is_address(bits[4])
        and bits[5].isdigit()
        and 0 < int(bits[5]) < 65536
        and bits[6] == "typ"
        and bits[7] in {"host", "srflx", "prflx", "relay"}
    )
    if not valid:
        raise BadCandidate("the candidate line is not valid (RFC 8839)")


def _is_address(text: str) -> bool:
    # An IP address, not a name: a browser's mDNS name (...local) cannot be
    # resolved by the server, and a name would make it look one up.
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse(raw: str | bytes) -> Message:
    """One client message, or SignallingError saying precisely what is wrong."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"messages are limited to {MAX_MESSAGE_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a few kilobytes of nested brackets are deeper than the
        # parser's stack.
        raise BadJson("messages must be JSON objects") from None
    if not isinstance(body, dict):
        raise BadJson("messages must be JSON objects")
    match body.get("type"):
        case "offer":
            return Offer(_sdp(body.get("sdp")))
        case "candidate":
            return _candidate(body.get("candidate"))
        case "leave":
            return Leave()
        case "ping":
            return Ping()
        case other:
            raise UnknownType(f"unknown message type {other!r}")
