"""Frames of the live video as the identity checks see them: each decoded frame
from the tap measured (kyc.liveness.frame_metrics) in a process of a bounded
pool, never on the event loop, and kept as a JPEG still named by its media time.

The frames are measured on the node that receives the media: shipping ten or
more frames a second per session to a remote identity worker would cost more
than measuring them. The face match on the chosen stills does go to the
identity workers (kyc.workers.IdentityChecks)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from kyc import face_pad
from kyc.face_dlib import model
from kyc.liveness import FrameMetrics, frame_metrics
from media.tap import TappedFrame
from workers.errors import WorkerCrashed, WorkTimedOut
from workers.pool import BoundedPool

STILL_QUALITY = 90


@dataclass(frozen=True, slots=True)
class JudgedFrame:
    seconds: float  # media time: the sender's clock, as the recording has it
    received_at: float  # server's time.monotonic() when the frame was decoded
    metrics: FrameMetrics | None  # None: not exactly one face in the frame
    jpeg: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jpeg).hexdigest()


class FrameJudge(Protocol):
    async def judge(self, frame: TappedFrame) -> JudgedFrame | None:
        """The frame measured, or None when it could not be (the pool was busy
        past its limit or a worker died): the check goes on with the next."""
        ...

    def close(self) -> None: ...


def _load_models() -> None:
    model("detector")
    model("landmarks68")
    face_pad.check()


def measure(image_bgr: np.ndarray[Any, Any], seconds: float) -> tuple[FrameMetrics | None, bytes]:
    """In a worker process: the face's metrics, and the frame as a JPEG still."""
    ok, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, STILL_QUALITY])
    if not ok:
        raise ValueError("the frame could not be encoded")
    return frame_metrics(image_bgr, seconds), encoded.tobytes()


class PooledFrameJudge:
    def __init__(self, *, processes: int, timeout_seconds: float, memory_limit_bytes: int) -> None:
        self._pool = BoundedPool(
            processes=processes,
            timeout_seconds=timeout_seconds,
            memory_limit_bytes=memory_limit_bytes,
            initializer=_load_models,
        )

    async def judge(self, frame: TappedFrame) -> JudgedFrame | None:
        # The pixels are made on first read: in a thread, as is everything heavy.
        image = await asyncio.to_thread(functools.partial(getattr, frame, "image"))
        try:
            metrics, jpeg = await self._pool.run(measure, image, frame.seconds)
        except (WorkTimedOut, WorkerCrashed):
            return None
        height, width = image.shape[:2]
        return JudgedFrame(frame.seconds, frame.received_at, metrics, jpeg, width, height)

    def close(self) -> None:
        self._pool.close()
