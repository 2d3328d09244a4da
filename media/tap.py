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
# Packets go to the decoder thread a few at a time (as for the recorder): one
# thread wake-up per batch. A batch waits at most half the offer interval, so the
# offered rate holds and frames stay fresh.
BATCH_PACKETS = 8


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
        self._packets: queue.Queue[list[av.Packet[Any]] | None] = queue.Queue(
            DECODE_BACKLOG // BATCH_PACKETS
        )
        self._batch_seconds = 0.5 / fps
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
        batch: list[av.Packet[Any]] = []
        started = 0.0
        while (packet := await self._subscription.queue.get()) is not None:
            if waiting_for_keyframe and not packet.is_keyframe:
                self.skipped += 1
                continue
            waiting_for_keyframe = False
            if not batch:
                started = time.monotonic()
            batch.append(packet)
            if len(batch) < BATCH_PACKETS and time.monotonic() - started < self._batch_seconds:
                continue
            try:
                self._packets.put_nowait(batch)
            except queue.Full:
                # The decoder is behind: drop the backlog and restart at a key frame.
                self.skipped += len(batch)
                with contextlib.suppress(queue.Empty):
                    while True:
                        self.skipped += len(self._packets.get_nowait() or [])
                waiting_for_keyframe = True
            batch = []
        self._packets.put(None)

    def _decode(self) -> None:
        decoder = av.CodecContext.create("vp8", "r")
        interval = 1.0 / self.fps
        next_offer = 0.0
        while (batch := self._packets.get()) is not None:
            frames = []
            for packet in batch:
                try:
                    frames += decoder.decode(packet)
                except av.FFmpegError:
                    continue
            self.decoded += len(frames)
            if not frames:
                continue
            # The newest frame of the batch is the one worth converting.
            frame = frames[-1]
            now = time.monotonic()
            if now < next_offer:
                continue
            # On schedule, not from now: batches arrive at their own pace, and the
            # offered rate should still average `fps`.
            next_offer = max(next_offer + interval, now - interval)
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
