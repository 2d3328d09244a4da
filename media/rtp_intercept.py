"""RTP packets straight out of aiortc's receivers: no frames, no decoding.

An `RTCRtpReceiver` does the receiving side's protocol work per packet (statistics
for its RTCP reports, NACKs for lost packets, unwrapping retransmissions, the REMB
bandwidth estimate that steers the browser's encoder) and then reassembles frames
in its jitter buffer for a decoder. On the server we keep all of the former and
replace the jitter buffer: each packet aiortc accepted (retransmissions already
unwrapped, payload already depacketised into `packet._data`) goes to a callback as
it is. Forwarding then costs one rewrite per packet instead of reassembling frames
only to cut them into packets again; whoever needs frames (the recorder) assembles
them on its own thread.

This reaches into private attributes of aiortc 1.16 (pinned in constraints.txt);
`install` fails loudly if a future version renames them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from media.errors import InterceptUnavailable

OnPacket = Callable[[RtpPacket, str], Awaitable[None]]

_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_CODECS = "_RTCRtpReceiver__codecs"


class _Catcher:
    """Stands where the receiver's jitter buffer was: keeps the packet aiortc
    accepted so the wrapper below can pass it on once aiortc is done with it."""

    def __init__(self) -> None:
        self.caught: RtpPacket | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self.caught = packet
        return False, None


def install(receiver: RTCRtpReceiver, on_packet: OnPacket) -> None:
    """Call `on_packet(packet, codec_name)` for every media packet `receiver`
    accepts, in arrival order, on the event loop. Install before the connection
    starts receiving; the receiver's own track then never yields a frame."""
    codecs: dict[int, Any] | None = getattr(receiver, _CODECS, None)
    if not hasattr(receiver, _JITTER_BUFFER) or codecs is None:
        raise InterceptUnavailable("this aiortc version cannot hand over RTP packets")
    catcher = _Catcher()
    setattr(receiver, _JITTER_BUFFER, catcher)
    handle = receiver._handle_rtp_packet

    async def handle_and_pass_on(packet: RtpPacket, arrival_time_ms: int) -> None:
        await handle(packet, arrival_time_ms)
        accepted, catcher.caught = catcher.caught, None
        if accepted is not None:
            codec = codecs.get(accepted.payload_type)
            if codec is not None:
                await on_packet(accepted, codec.mimeType.split("/")[1].lower())

    # The DTLS transport looks the handler up on the receiver for every packet.
    receiver._handle_rtp_packet = handle_and_pass_on  # type: ignore[method-assign]
