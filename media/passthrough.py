"""Encoded frames straight out of aiortc's receivers: no decoding on the forwarding path.

An `RTCRtpReceiver` reassembles RTP packets into encoded frames in its jitter
buffer and hands each to a decoder thread through a queue. On the server we put
our own queue there before the receiver starts: each encoded frame becomes an
`av.Packet` (timestamp in the RTP clock) delivered to the receiver's track, so
`track.recv()` yields packets that an `RTCRtpSender` forwards with `pack()` and a
muxer writes as they are. The decoder thread then only waits for the end of the
stream.

This reaches into one private attribute of aiortc 1.16 (pinned in
constraints.txt); `install` fails loudly if a future version renames it.
"""

from __future__ import annotations

import asyncio
import fractions
import queue
from typing import Any

import av
from aiortc import RTCRtpReceiver
from aiortc.mediastreams import MediaStreamTrack

_QUEUE_ATTRIBUTE = "_RTCRtpReceiver__decoder_queue"
VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000


class PassthroughUnavailable(RuntimeError):
    """The installed aiortc does not hand encoded frames over where expected."""


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded video frame can be decoded on its own."""
    if codec == "vp8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
        return bool(data) and not data[0] & 0x01
    if codec == "h264":
        # Annex B stream (aiortc's depacketiser adds start codes): an IDR slice.
        return any(
            data[i + 3] & 0x1F == 5
            for i in range(len(data) - 3)
            if data[i : i + 3] == b"\x00\x00\x01"
        )
    return True


class _EncodedFrameQueue(queue.Queue[Any]):
    """Stands where the decoder's input queue was; called on the event loop."""

    def __init__(self, track: MediaStreamTrack, clock: int) -> None:
        super().__init__()
        self._track_queue: asyncio.Queue[Any] = track._queue  # type: ignore[attr-defined]
        self._time_base = fractions.Fraction(1, clock)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # end of stream: let the idle decoder thread finish
            super().put(None)
            return
        codec, frame = item
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = frame.timestamp
        packet.time_base = self._time_base
        name = codec.mimeType.split("/")[1].lower()
        if name in {"vp8", "h264"}:
            packet.is_keyframe = is_keyframe(name, frame.data)
        self._track_queue.put_nowait(packet)


def install(receiver: RTCRtpReceiver, track: MediaStreamTrack) -> None:
    """Make `track` yield encoded `av.Packet`s. Call from the peer connection's
    "track" event, before the connection starts receiving."""
    if not hasattr(receiver, _QUEUE_ATTRIBUTE) or not hasattr(track, "_queue"):
        raise PassthroughUnavailable("this aiortc version cannot forward encoded frames")
    clock = VIDEO_CLOCK if track.kind == "video" else AUDIO_CLOCK
    setattr(receiver, _QUEUE_ATTRIBUTE, _EncodedFrameQueue(track, clock))
