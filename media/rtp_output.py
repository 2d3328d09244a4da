"""What a participant receives of the other side: RTP packets relayed onto the
server's own sender, continuous across the other side's reconnections.

The server's sender towards a participant keeps its SSRC, sequence numbers and
timestamps for the whole connection. Packets from the other side's current
connection are rewritten onto them with fixed offsets (so reordered and
retransmitted packets keep their places); when the other side reconnects, new
offsets make the new source continue where the old one stopped, and video waits
for the new source's key frame. Nothing is renegotiated with the participant who
stayed. aiortc's sender still does the rest: it answers the browser's NACKs from
the history kept here, sends sender reports from the counters kept here, and hands
the browser's key frame requests to `on_keyframe_request`.

Like media.rtp_intercept this reaches into private attributes of aiortc 1.16.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket

from media import direct_path
from media.errors import OutputUnavailable
from media.fanout import Fanout
from media.keyframes import starts_keyframe

# One frame's worth of RTP clock between two sources: 30 fps video at 90 kHz,
# 20 ms Opus at 48 kHz.
_STEP = {"video": 3000, "audio": 960}
_PRIVATE = "_RTCRtpSender__"
_REQUIRED = (
    "rtp_history",
    "rtp_header_extensions_map",
    "mid",
    "ntp_timestamp",
    "rtp_timestamp",
    "octet_count",
    "packet_count",
)
_MID, _NTP_TIMESTAMP, _RTP_TIMESTAMP, _OCTET_COUNT, _PACKET_COUNT = (
    _PRIVATE + name
    for name in ("mid", "ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count")
)
_NTP_EPOCH_NS = 2_208_988_800 * 1_000_000_000  # 1900-01-01 to 1970-01-01


def ntp_now() -> int:
    """Now as a 64-bit NTP timestamp (what aiortc's clock gives, without datetimes:
    this runs for every packet)."""
    seconds, nanoseconds = divmod(time.time_ns() + _NTP_EPOCH_NS, 1_000_000_000)
    return (seconds << 32) | ((nanoseconds << 32) // 1_000_000_000)


class IdleTrack(MediaStreamTrack):
    """The sender's nominal track: packets reach the sender through `RtpOutput`,
    so its own loop waits here until the connection closes."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._stopped = asyncio.Event()

    async def recv(self) -> Any:
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self._stopped.set()
        super().stop()


# Told once per source when it sends a codec this participant did not accept:
# (codec sent, codecs accepted, comma-separated).
CodecMismatch = Callable[[str, str], None]


class RtpOutput:
    def __init__(
        self, sender: RTCRtpSender, kind: str, *, on_codec_mismatch: CodecMismatch | None = None
    ) -> None:
        missing = [name for name in _REQUIRED if not hasattr(sender, _PRIVATE + name)]
        if missing:
            raise OutputUnavailable(f"this aiortc version's sender lacks {missing}")
        self.kind = kind
        self.forwarded = 0
        self._sender = sender
        self._history: dict[int, RtpPacket] = getattr(sender, _PRIVATE + "rtp_history")
        self._extensions = getattr(sender, _PRIVATE + "rtp_header_extensions_map")
        # The negotiated codecs by name: their payload types, the first the one
        # this participant sends with and whose retransmissions aiortc's sender
        # answers.
        self._payload_types: dict[str, int] = {}
        self._retransmitted: int | None = None
        self._source: Fanout | None = None
        self._waiting_for_keyframe = False
        self._request_keyframe: Callable[[], None] = lambda: None
        self._on_codec_mismatch = on_codec_mismatch
        self._mismatch_told = False
        self._offsets: tuple[int, int] | None = None
        # The next sequence number and timestamp: random to start with (RFC 3550).
        self._next = (random.getrandbits(16), random.getrandbits(32))
        # The negotiated codecs are known when aiortc starts the sender with the
        # parameters both sides agreed on.
        start = sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            for codec in parameters.codecs:
                name = codec.mimeType.split("/")[1].lower()
                if codec.payloadType is not None and name != "rtx":
                    self._payload_types.setdefault(name, codec.payloadType)
                    if self._retransmitted is None:
                        self._retransmitted = codec.payloadType
            await start(parameters)

        sender.send = send  # type: ignore[method-assign]

    def attach(self, source: Fanout, request_keyframe: Callable[[], None]) -> None:
        """Relay `source`'s packets from now on (from its next key frame, for video)."""
        self.detach()
        self._source = source
        source.subscribe(self)
        self._offsets = None
        self._request_keyframe = request_keyframe
        self._mismatch_told = False
        if self.kind == "video":
            self._waiting_for_keyframe = True
            request_keyframe()

    def detach(self) -> None:
        if self._source is not None:
            self._source.unsubscribe(self)
            self._source = None

    def detach_from(self, source: Fanout) -> None:
        """Stop relaying if (and only if) `source` is the current one."""
        if self._source is source:
            self.detach()

    async def relay(self, packet: RtpPacket, codec: str) -> None:
        """Send one packet of the attached source (as received) to this participant."""
        transport = self._sender.transport
        path = direct_path.installed(transport)
        connected = path.connected if path is not None else transport.state == "connected"
        if not self._payload_types or not connected:
            return  # not negotiated, or not connected, yet
        payload_type = self._payload_types.get(codec)
        if payload_type is None:
            # A codec this participant did not agree to receive (a browser that
            # offered H.264 only, facing one answered VP8 alone): nothing to relay,
            # and the call should know rather than show a frozen picture in silence.
            if not self._mismatch_told and self._on_codec_mismatch is not None:
                self._mismatch_told = True
                self._on_codec_mismatch(codec, ",".join(self._payload_types))
            return
        if self._waiting_for_keyframe:
            if not starts_keyframe(codec, packet):
                # Keep asking (the source limits how often): the first request
                # may have gone out before the source had sent anything.
                self._request_keyframe()
                return
            self._waiting_for_keyframe = False
        if self._offsets is None:
            # Continue where the previous source stopped.
            following_sequence, following_timestamp = self._next
            self._offsets = (
                (following_sequence - packet.sequence_number) & 0xFFFF,
                (following_timestamp - packet.timestamp) & 0xFFFFFFFF,
            )
        sequence_offset, timestamp_offset = self._offsets
        out = RtpPacket(
            payload_type=payload_type,
            marker=packet.marker,
            sequence_number=(packet.sequence_number + sequence_offset) & 0xFFFF,
            timestamp=(packet.timestamp + timestamp_offset) & 0xFFFFFFFF,
            ssrc=self._sender._ssrc,
            payload=packet.payload,
        )
        now = ntp_now()
        out.extensions.abs_send_time = (now >> 14) & 0x00FFFFFF
        out.extensions.mid = getattr(self._sender, _MID)
        out.extensions.audio_level = packet.extensions.audio_level
        if payload_type == self._retransmitted:
            # aiortc's sender answers a NACK with its history packet wrapped for
            # the first codec's retransmission format: another codec's packet
            # would come back as the wrong codec. Those are left to a key frame
            # request instead.
            self._history[out.sequence_number % RTP_HISTORY_SIZE] = out
        data = out.serialize(self._extensions)
        try:
            if path is not None:
                path.send_rtp(data)
            else:
                await transport._send_rtp(data)
        except ConnectionError:
            return  # not connected yet, or already closing
        self._count(out, now)

    def _count(self, out: RtpPacket, now: int) -> None:
        # What aiortc's sender puts in its RTCP sender reports and statistics.
        sender = self._sender
        setattr(sender, _NTP_TIMESTAMP, now)
        setattr(sender, _RTP_TIMESTAMP, out.timestamp)
        setattr(sender, _OCTET_COUNT, getattr(sender, _OCTET_COUNT) + len(out.payload))
        setattr(sender, _PACKET_COUNT, getattr(sender, _PACKET_COUNT) + 1)
        self.forwarded += 1
        following_sequence, _ = self._next
        if (out.sequence_number - following_sequence) & 0xFFFF < 0x8000:  # not a late one
            self._next = (
                (out.sequence_number + 1) & 0xFFFF,
                (out.timestamp + _STEP[self.kind]) & 0xFFFFFFFF,
            )
