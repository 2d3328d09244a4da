"""The review's view of one interview, read off the application's audit entries.

Everything the session page plays and marks comes from the tamper-evident log, not
from mutable tables: the recording segments (file, hash, wall-clock start,
duration), the moments a reviewer jumps to (documents read, liveness, contract
pushed, each page confirmed, signed, call ended), call-quality changes, and the
gaps while a participant was reconnecting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.chain import AuditEntry
from kyc.actions import KycAction
from media.actions import RECORDING_ACTIONS, CallAction, InterviewAction
from media.video_format import RECORDING_TYPES
from signing.actions import ContractAction

_SUFFIXES = "|".join(map(re.escape, RECORDING_TYPES))
RECORDING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}(?:" + _SUFFIXES + ")$")


@dataclass(frozen=True, slots=True)
class Segment:
    side: str
    index: int
    file: str
    sha256: str
    size: int
    started_at: datetime
    duration_seconds: float

    def as_json(self, url: str) -> dict[str, Any]:
        return {
            "side": self.side,
            "segment": self.index,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "started_at": self.started_at.isoformat(),
            "duration_seconds": self.duration_seconds,
            "url": url,
        }


def segments(entries: Sequence[AuditEntry]) -> list[Segment]:
    """The closed recording segments, oldest first, with what was kept of a segment
    open on a node that died; malformed entries are skipped."""
    found = []
    for entry in entries:
        if entry.action not in RECORDING_ACTIONS:
            continue
        d = entry.details
        try:
            segment = Segment(
                side=str(d["side"]),
                index=int(d["segment"]),
                file=str(d["file"]),
                sha256=str(d["sha256"]),
                size=int(d["size"]),
                started_at=datetime.fromisoformat(str(d["started_at"])),
                duration_seconds=float(d["duration_seconds"]),
            )
        except (KeyError, TypeError, ValueError):
            continue
        if RECORDING_NAME.match(segment.file):
            found.append(segment)
    return sorted(found, key=lambda s: s.started_at)


def _marker(entry: AuditEntry) -> tuple[str, dict[str, Any]] | None:
    """(kind, facts) for an entry a reviewer would want to jump to, else None."""
    d = entry.details
    match entry.action:
        case CallAction.STARTED:
            return "call_started", {}
        case KycAction.DOCUMENT_READ:
            checks = d.get("checks") or {}
            passed = bool(checks) and all(checks.values())
            return "document_read", {"document": d.get("kind"), "passed": passed}
        case KycAction.FACE_MATCH:
            return "face_match", {"decision": d.get("decision")}
        case KycAction.LIVENESS:
            passed = d.get("status") == "passed"
            return ("liveness_passed" if passed else "liveness_failed"), {"source": d.get("source")}
        case KycAction.DOCUMENT_SHOWN:
            return "document_shown", {"document": d.get("kind"), "passed": d.get("passed") is True}
        case CallAction.SNAPSHOT:
            return "snapshot", {}
        case InterviewAction.CHECKLIST:
            items = d.get("items") or {}
            return "interview_checklist", {"ticked": sorted(k for k, v in items.items() if v)}
        case ContractAction.PUSHED:
            return "contract_pushed", {}
        case ContractAction.PAGE_READ:
            return "page_confirmed", {"page": d.get("page")}
        case ContractAction.CODE_ACCEPTED:
            return "code_accepted", {}
        case ContractAction.SIGNED:
            return "signed", {}
        case CallAction.DROPPED:
            return "dropped", {"side": d.get("side")}
        case CallAction.REJOINED:
            return "rejoined", {"side": d.get("side")}
        case CallAction.ENDED:
            return "call_ended", {"reason": d.get("reason")}
        # Gaps in what the reviewer can see: video one side could not be shown
        # (media.rtp_output), a segment that could not be written (media.recording).
        case CallAction.CODEC_MISMATCH:
            return "video_not_relayed", {"side": d.get("to")}
        case CallAction.RECORDING_FAILED:
            return "recording_failed", {"side": d.get("side")}
        # Why a segment ends with no drop before it: that side was asked to
        # connect again in the other's video codec (media.call).
        case CallAction.RECONNECT_REQUESTED:
            return "codec_switch", {"side": d.get("side"), "codec": d.get("codec")}
        # Several nodes: the call's node died and a live one took it over, with
        # what had been kept of the recording then; or a drained node handed it on.
        case CallAction.NODE_LOST:
            return "node_lost", {"to_node": d.get("to_node")}
        case CallAction.MOVED:
            return "call_moved", {"to_node": d.get("to_node")}
        case CallAction.SEGMENT_RECOVERED:
            return "segment_recovered", {
                "side": d.get("side"),
                "lost_seconds_at_most": d.get("lost_seconds_at_most"),
            }
    return None


def timeline(entries: Sequence[AuditEntry], recording_url: str) -> dict[str, Any]:
    """The session page's document; `recording_url` is formatted with `file`."""
    markers = []
    quality = []
    gaps: list[dict[str, Any]] = []
    open_gaps: dict[str, dict[str, Any]] = {}
    for entry in entries:
        at = entry.at.isoformat()
        found = _marker(entry)
        if found is not None:
            kind, facts = found
            markers.append({"seq": entry.seq, "at": at, "kind": kind, **facts})
        side = str(entry.details.get("side", ""))
        if entry.action == CallAction.QUALITY_CHANGED:
            quality.append(
                {
                    "at": at,
                    "side": side,
                    **{
                        k: entry.details.get(k)
                        for k in ("badge", "rtt_ms", "loss_percent", "bitrate_kbps")
                    },
                }
            )
        elif entry.action == CallAction.DROPPED:
            gap = {"side": side, "from": at, "to": None, "why": entry.details.get("why")}
            open_gaps[side] = gap
            gaps.append(gap)
        elif entry.action in (CallAction.REJOINED, CallAction.CONNECTED) and side in open_gaps:
            open_gaps.pop(side)["to"] = at
    return {
        "segments": [s.as_json(recording_url.format(file=s.file)) for s in segments(entries)],
        "markers": markers,
        "quality": quality,
        "gaps": gaps,
    }
