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

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 48 * 1024
MAX_CANDIDATE_CHARS = 1024
# A browser gathers a handful of candidates per connection; more is a flood.
MAX_CANDIDATES = 64


class SignallingError(Exception):
    """A message that cannot be acted on; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_message(self) -> dict[str, str]:
        return {"type": "error", "code": self.code, "message": self.message}


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
        raise SignallingError("bad_sdp", "sdp must be a session description starting 'v=0'")
    if len(value) > MAX_SDP_CHARS:
        raise SignallingError("too_large", "the session description is too large")
    if "m=" not in value:
        raise SignallingError("bad_sdp", "the session description has no media")
    return value


def _candidate(value: Any) -> Candidate:
    if not isinstance(value, dict):
        raise SignallingError("bad_candidate", "candidate must be an object")
    text = value.get("candidate")
    mid = value.get("sdpMid")
    index = value.get("sdpMLineIndex")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS:
        raise SignallingError("bad_candidate", "candidate.candidate must be a short string")
    if mid is not None and not isinstance(mid, str):
        raise SignallingError("bad_candidate", "candidate.sdpMid must be a string")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise SignallingError("bad_candidate", "candidate.sdpMLineIndex must be an integer")
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
        raise SignallingError("bad_candidate", "the candidate line is not valid (RFC 8839)")


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
        raise SignallingError("too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a few kilobytes of nested brackets are deeper than the
        # parser's stack.
        raise SignallingError("bad_json", "messages must be JSON objects") from None
    if not isinstance(body, dict):
        raise SignallingError("bad_json", "messages must be JSON objects")
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
            raise SignallingError("unknown_type", f"unknown message type {other!r}")
