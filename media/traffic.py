"""Process-wide media counters for monitoring: they only grow, whatever calls come and go."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Traffic:
    """Encoded packets and bytes received from participants. Every received packet is
    forwarded to the other side and written to the recording, so these are also the
    forwarding and recording volumes."""

    packets: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.packets += 1
        self.bytes += size
