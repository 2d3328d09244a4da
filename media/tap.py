"""The applicant's live video as decoded frames for the identity checks.

Forwarding and recording handle encoded packets only; this is the one place the
server decodes, in a thread of its own. Every packet must be decoded (each VP8
frame depends on the previous ones), but only `fps` frames a second are converted
to pixels and offered, newest first: a consumer that is slower simply sees fewer,
fresher frames, and a decoder that falls behind skips to the next key frame. The
event loop, the forwarding path and the recording never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from media.fanout import Fanout, Subscription

DECODE_BACKLOG = 64


@dataclass(frozen=True, slots=True)
class TappedFrame:
    image: np.ndarray[Any, Any]  # BGR, full resolution as received
    seconds: float  # media time of the frame
    received_at: float  # time.monotonic() when decoded


class FrameTap:
    def __init__(self, fanout: Fanout, *, fps: float = 5.0) -> None:
        self.fps = fps
        self._fanout = fanout
        self._subscription: Subscription = fanout.subscribe()
        self._packets: queue.Queue[av.Packet[Any] | None] = queue.Queue(DECODE_BACKLOG)
        self._latest: TappedFrame | None = None
        self._latest_lock = threading.Lock()
        self._new_frame = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.decoded = 0
        self.offered = 0
        self.skipped = 0
        self._thread = threading.Thread(target=self._decode, name="frame-tap", daemon=True)
        self._thread.start()
        self._feeder = asyncio.ensure_future(self._feed())

    async def _feed(self) -> None:
        waiting_for_keyframe = False
        while (packet := await self._subscription.queue.get()) is not None:
            if waiting_for_keyframe and not packet.is_keyframe:
                self.skipped += 1
                continue
            waiting_for_keyframe = False
            try:
                self._packets.put_nowait(packet)
            except queue.Full:
                # The decoder is behind: drop the backlog and restart at a key frame.
                with contextlib.suppress(queue.Empty):
                    while True:
                        self._packets.get_nowait()
                        self.skipped += 1
                waiting_for_keyframe = True
        self._packets.put(None)

    def _decode(self) -> None:
        decoder = av.CodecContext.create("vp8", "r")
        interval = 1.0 / self.fps
        next_offer = 0.0
        while (packet := self._packets.get()) is not None:
            try:
                frames = decoder.decode(packet)
            except av.FFmpegError:
                continue
            for frame in frames:
                self.decoded += 1
                now = time.monotonic()
                if now < next_offer:
                    continue
                next_offer = now + interval
                seconds = float(frame.pts * frame.time_base) if frame.pts and frame.time_base else 0
                tapped = TappedFrame(frame.to_ndarray(format="bgr24"), seconds, now)
                with self._latest_lock:
                    self._latest = tapped
                self.offered += 1
                self._loop.call_soon_threadsafe(self._new_frame.set)

    def latest(self) -> TappedFrame | None:
        """The newest frame offered, or None before the first."""
        with self._latest_lock:
            return self._latest

    async def next_frame(self) -> TappedFrame:
        """Wait for a frame newer than the one last returned (callers bound the
        wait with asyncio.timeout)."""
        self._new_frame.clear()
        await self._new_frame.wait()
        frame = self.latest()
        assert frame is not None
        return frame

    async def close(self) -> None:
        self._fanout.unsubscribe(self._subscription)
        self._subscription.offer(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._feeder
        await asyncio.to_thread(self._thread.join)
