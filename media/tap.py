"""The applicant's live video as decoded frames for the identity checks.

Forwarding and recording handle encoded data only; this is the one place the
server decodes, in a thread of its own. It is fed the encoded frames the recorder
assembles (`push`, from the recorder's thread), VP8 or H.264. A frame depends on
the ones before it, so every frame is decoded, except upper temporal layer frames
when the base layer alone gives the rate (media.temporal_layers: the applicant's
browser sends VP8 in two layers). Only `fps` frames a second of media time are
offered (the recorder hands frames over in batches, so the wall clock would
bunch them): `latest` is the newest, and `next_frame` walks the last few in
order, so a consumer that is slower simply skips some. A decoder that falls
behind skips to the next key frame. The event loop, the forwarding path and the
recording never wait for it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import queue
import threading
import time
from typing import Any

import av
import numpy as np

from media.keyframes import is_keyframe
from media.recording import AssembledFrame
from media.temporal_layers import LayerSelector

DECODE_BACKLOG = 16
# Offered frames kept for next_frame: about two seconds at the live checks' rate,
# so a judge that falls behind for a moment catches up instead of skipping (a
# blink is a few frames).
RECENT = 32
_TIME_BASE = fractions.Fraction(1, 90_000)


class TappedFrame:
    """One decoded frame as offered. Its BGR pixels are made when first read, in
    the reader's thread: most offered frames are replaced before anyone looks."""

    __slots__ = ("_decoded", "_image", "_lock", "number", "received_at", "seconds")

    def __init__(
        self, decoded: av.VideoFrame, seconds: float, received_at: float, number: int
    ) -> None:
        self._decoded: av.VideoFrame | None = decoded
        self._image: np.ndarray[Any, Any] | None = None
        self._lock = threading.Lock()
        self.seconds = seconds  # media time of the frame
        self.received_at = received_at  # time.monotonic() when decoded
        self.number = number  # 1 for the first frame offered, and so on

    @property
    def image(self) -> np.ndarray[Any, Any]:
        """BGR, full resolution as received (a conversion on first read)."""
        with self._lock:
            if self._image is None:
                assert self._decoded is not None
                self._image = self._decoded.to_ndarray(format="bgr24")
                self._decoded = None
            return self._image


class FrameTap:
    def __init__(self, *, fps: float = 5.0) -> None:
        self.fps = fps
        self._frames: queue.Queue[tuple[bytes, int, str] | None] = queue.Queue(DECODE_BACKLOG)
        self._waiting_for_keyframe = False
        self._closed = False
        self._latest: TappedFrame | None = None
        self._recent: collections.deque[TappedFrame] = collections.deque(maxlen=RECENT)
        self._returned = 0  # the number of the frame next_frame returned last
        self._latest_lock = threading.Lock()
        self._new_frame = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.decoded = 0
        self.offered = 0
        self.skipped = 0  # dropped because the decoder was behind
        self._layers = LayerSelector(fps)
        self._thread = threading.Thread(target=self._decode, name="frame-tap", daemon=True)
        self._thread.start()

    @property
    def not_needed(self) -> int:
        """Upper temporal layer frames left undecoded (media.temporal_layers)."""
        return self._layers.skipped

    def set_rate(self, fps: float) -> None:
        """Offer `fps` frames a second from now on: a liveness check on the call
        needs more than the call's own rate."""
        self.fps = fps
        self._layers.set_rate(fps)

    def push(self, frame: AssembledFrame) -> None:
        """One encoded frame as the recorder assembled it; never blocks."""
        data, pts, layer, codec = frame
        if self._closed:
            return
        keyframe = is_keyframe(codec, data)
        if self._waiting_for_keyframe:
            if not keyframe:
                self.skipped += 1
                return
            self._waiting_for_keyframe = False
        if not self._layers.wanted(layer, keyframe, pts):
            return
        try:
            self._frames.put_nowait((data, pts, codec))
        except queue.Full:
            # The decoder is behind: drop the backlog and restart at a key frame.
            with contextlib.suppress(queue.Empty):
                while self._frames.get_nowait() is not None:
                    self.skipped += 1
                self._frames.put_nowait(None)  # close() came in meanwhile: keep its mark
            self.skipped += 1
            self._waiting_for_keyframe = True

    def _decode(self) -> None:
        decoder: Any = None
        next_offer = 0.0
        while (item := self._frames.get()) is not None:
            interval = 1.0 / self.fps
            data, pts, codec = item
            if decoder is None or decoder.name != codec:
                decoder = av.CodecContext.create(codec, "r")
                # Many calls each decode one stream: threads inside one decoder
                # would only add hand-offs.
                decoder.thread_count = 1
            packet = av.Packet(data)
            packet.pts = packet.dts = pts
            packet.time_base = _TIME_BASE
            try:
                frames = decoder.decode(packet)
            except av.FFmpegError:
                continue
            self.decoded += len(frames)
            if not frames:
                continue
            frame = frames[-1]
            now = time.monotonic()
            timed = frame.pts is not None and frame.time_base is not None
            seconds = float(frame.pts * frame.time_base) if timed else 0.0
            clock = seconds if timed else now
            if clock < next_offer - 1.0:
                next_offer = clock  # the sender's clock went back: start again
            if clock < next_offer:
                continue
            # On schedule, not from this frame: the offered rate should average `fps`.
            next_offer = max(next_offer + interval, clock - interval)
            tapped = TappedFrame(frame, seconds, now, self.offered + 1)
            with self._latest_lock:
                self._latest = tapped
                self._recent.append(tapped)
            self.offered += 1
            self._loop.call_soon_threadsafe(self._new_frame.set)

    def latest(self) -> TappedFrame | None:
        """The newest frame offered, or None before the first."""
        with self._latest_lock:
            return self._latest

    async def next_frame(self) -> TappedFrame:
        """The frame offered after the one this returned last, in order, of the
        last few offered; waits for one when there is none (callers bound the
        wait with asyncio.timeout)."""
        while True:
            # Cleared before looking: an offer after the look sets it again.
            self._new_frame.clear()
            with self._latest_lock:
                frame = next((f for f in self._recent if f.number > self._returned), None)
            if frame is not None:
                self._returned = frame.number
                return frame
            await self._new_frame.wait()

    async def close(self) -> None:
        """Stop decoding; frames pushed after this are ignored."""
        self._closed = True
        await asyncio.to_thread(self._frames.put, None)
        await asyncio.to_thread(self._thread.join)
