"""One participant's received stream of one kind, delivered as RTP packets to
everyone who needs it: the recorder (and through it the KYC frame tap) and the
other participant's output.

Delivery is a direct call per packet on the event loop, in arrival order: no
queue and no task between receiving a packet and relaying it. The recorder only
appends the packet to a batch for its thread, so nothing on this path waits for a
slow consumer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiortc.rtp import RtpPacket


class Relay(Protocol):
    async def relay(self, packet: RtpPacket, codec: str) -> None: ...


class Fanout:
    def __init__(self, kind: str, *, on_packet: Callable[[RtpPacket, str], None]) -> None:
        self.kind = kind
        self.packets = 0
        self._on_packet = on_packet
        self._outputs: list[Relay] = []

    def subscribe(self, output: Relay) -> None:
        self._outputs.append(output)

    def unsubscribe(self, output: Relay) -> None:
        if output in self._outputs:
            self._outputs.remove(output)

    async def deliver(self, packet: RtpPacket, codec: str) -> None:
        """Called by media.rtp_intercept for every packet the receiver accepted."""
        if not packet.payload:
            return  # padding only: bandwidth probing, nothing to relay or record
        self.packets += 1
        self._on_packet(packet, codec)
        for output in tuple(self._outputs):
            await output.relay(packet, codec)
