"""A camera for the live identity checks: a real face (tests/data/video/d12.mp4)
that makes the movement the server asks for when it asks, as a person would.
Shared by tests/test_live_identity.py and benchmarks/bench_kyc_live.py."""

from __future__ import annotations

import fractions
from typing import Any

import av
import cv2
import numpy as np
from aiortc import VideoStreamTrack

from tests.document_flow import D12

# Where each movement is in d12 (25 fps; measured with kyc.liveness.frame_metrics):
# at rest 0-0.56 s, a blink at 1.92-2.04 s, a turn to the right 2.9-3.4 s, the
# mouth wide open 4.7-5.2 s.
REST = range(0, 15)
MOVES = {"blink": range(44, 59), "turn_right": range(71, 87), "open_mouth": range(115, 132)}
# The eyes shut (frames 49-51): held longer, as a person asked to blink does.
SHUT = range(49, 52)
CHALLENGES = "blink,turn_right,open_mouth"
WINDOW = 3


def d12_frames() -> list[np.ndarray[Any, Any]]:
    capture = cv2.VideoCapture(str(D12))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


class RespondingCamera(VideoStreamTrack):
    """d12 at rest (its first half second, back and forth) until told to make a
    movement: then that part of the clip at a third of its speed, then rest. d12's
    blink is quick (its eyes are shut for three frames, a little over 0.1 s); a
    person asked to blink does so deliberately, so the shut frames are held for
    about 0.6 s."""

    def __init__(self, frames: list[np.ndarray[Any, Any]], *, still: bool = False) -> None:
        super().__init__()
        self._frames = frames
        self._still = still
        self._rest = [*REST, *reversed(REST)]
        self._shown = 0
        self._queue: list[int] = []
        self._held: np.ndarray[Any, Any] | None = None
        self.sent = 0

    def hold(self, document: np.ndarray[Any, Any]) -> None:
        """From now on the camera shows `document` (a photo of it, fitted into
        the frame), as a phone's back camera pointed at a card would."""
        height, width = self._frames[0].shape[:2]
        scale = 0.95 * min(width / document.shape[1], height / document.shape[0])
        fitted = cv2.resize(document, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = np.full_like(self._frames[0], 70)
        top = (height - fitted.shape[0]) // 2
        left = (width - fitted.shape[1]) // 2
        frame[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
        self._held = frame

    def release(self) -> None:
        """Back to the face."""
        self._held = None

    def move(self, challenge: str) -> None:
        if not self._still:
            self._queue.extend(i for i in MOVES[challenge] for _ in range(6 if i in SHUT else 3))

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = self._held
        if image is not None:
            index = 0
        elif self._queue:
            index = self._queue.pop(0)
        elif self._still:
            index = 0
        else:
            index = self._rest[self._shown % len(self._rest)]
            self._shown += 1
        frame = av.VideoFrame.from_ndarray(
            image if image is not None else self._frames[index], format="bgr24"
        )
        frame.pts = pts
        frame.time_base = time_base or fractions.Fraction(1, 90000)
        self.sent += 1
        return frame
