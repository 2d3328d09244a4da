"""Call quality as the server measures it, reduced to a badge for the pages.

Per participant, every few seconds: the round-trip time and loss the browser
reports back for what the server sends it (RTCP receiver reports), the loss the
server sees on what the browser sends, and the bitrate the server receives from
it. The badge is the worst of the three verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Badge(StrEnum):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    UNKNOWN = "unknown"


# (good if at most, fair if at most); above fair is poor.
RTT_MS = (150.0, 400.0)
LOSS = (0.02, 0.08)
# Video bitrate received (kbit/s): below these a face is hard to see.
BITRATE_KBPS = (250.0, 80.0)


@dataclass(frozen=True, slots=True)
class QualitySample:
    rtt_ms: float | None
    loss: float | None  # 0..1, the worse direction
    bitrate_kbps: float | None  # received from this participant

    def badge(self) -> Badge:
        if self.rtt_ms is None and self.loss is None and self.bitrate_kbps is None:
            return Badge.UNKNOWN
        verdicts = []
        if self.rtt_ms is not None:
            verdicts.append(_grade(self.rtt_ms, *RTT_MS))
        if self.loss is not None:
            verdicts.append(_grade(self.loss, *LOSS))
        if self.bitrate_kbps is not None:
            good, fair = BITRATE_KBPS
            verdicts.append(_grade(-self.bitrate_kbps, -good, -fair))
        order = [Badge.GOOD, Badge.FAIR, Badge.POOR]
        return max(verdicts, key=order.index)

    def as_json(self) -> dict[str, object]:
        return {
            "badge": self.badge().value,
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms),
            "loss": None if self.loss is None else round(self.loss, 4),
            "bitrate_kbps": None if self.bitrate_kbps is None else round(self.bitrate_kbps),
        }

    def as_audit(self) -> dict[str, object]:
        """The sample in the audit log's terms: integers and strings only."""
        return {
            "badge": self.badge().value,
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms),
            "loss_percent": None if self.loss is None else f"{self.loss * 100:.2f}",
            "bitrate_kbps": None if self.bitrate_kbps is None else round(self.bitrate_kbps),
        }


def _grade(value: float, good: float, fair: float) -> Badge:
    if value <= good:
        return Badge.GOOD
    if value <= fair:
        return Badge.FAIR
    return Badge.POOR
