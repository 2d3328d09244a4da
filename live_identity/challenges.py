"""Active liveness on the live stream: the server, not the page, decides when
each challenge starts.

After a pause of its own choosing it tells the page the prompt, and from then on
only frames the server decodes within the window count as the answer (its own
clock, time.monotonic, when each frame came off the decoder). A clip recorded in
advance knows neither the sequence nor the timing; an answer that comes late
fails. The verdict on each challenge goes to the page as soon as it is known.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from kyc.liveness import BASELINE_SECONDS, Challenge, FrameMetrics, answered
from live_identity.frames import FrameJudge, JudgedFrame
from media.tap import FrameTap

# Network, jitter buffer and decoding: a frame shot at the end of the window
# comes off the decoder this much later at most and still counts.
ARRIVAL_ALLOWANCE = 0.5
# After the window, how long to wait for frames already decoded but still being
# measured (a judge on a loaded node may lag the tap by up to its two seconds of
# frames, media.tap.RECENT).
MEASURING_ALLOWANCE = 3.0
BASELINE_FRAMES = 3
# The pause before each prompt, picked at random in this range (seconds).
PAUSE = (0.6, 1.6)

Tell = Callable[[Mapping[str, object]], Awaitable[None]]


def media_seconds(value: float) -> str:
    """A media time as the audit log keeps numbers: text (floats have no canonical
    encoding)."""
    return f"{value:.3f}"


@dataclass(frozen=True, slots=True)
class ChallengeRun:
    challenge: Challenge
    prompted_at: float  # media seconds, the server's estimate when the prompt left
    detected: bool
    answered_at: float | None  # media seconds of the frame that completed the answer
    peak: JudgedFrame | None  # the frame where the movement was strongest

    def as_json(self) -> dict[str, object]:
        return {
            "challenge": self.challenge.value,
            "prompted_at": media_seconds(self.prompted_at),
            "detected": self.detected,
            "answered_at": None if self.answered_at is None else media_seconds(self.answered_at),
        }


@dataclass(frozen=True, slots=True)
class LiveRun:
    asked: list[Challenge]
    runs: list[ChallengeRun]
    frames: list[JudgedFrame]
    baseline: list[JudgedFrame]
    # Why the run stopped short: "no_video" (no frame arrived), "no_face" (no
    # steady face to start from), "stopped" (the connection went).
    problem: str | None

    @property
    def all_detected(self) -> bool:
        return len(self.runs) == len(self.asked) and all(r.detected for r in self.runs)

    @property
    def detected(self) -> dict[str, bool]:
        done = {r.challenge.value: r.detected for r in self.runs}
        return {c.value: done.get(c.value, False) for c in self.asked}


def _pause() -> float:
    low, high = PAUSE
    return low + (high - low) * secrets.randbelow(1000) / 1000


class LiveChallenges:
    """One run of challenges on the frames of `tap()` (the current tap: a
    reconnect replaces it)."""

    def __init__(
        self,
        tap: Callable[[], FrameTap | None],
        judge: FrameJudge,
        *,
        window: float,
        tell: Tell,
        start_timeout: float = 15.0,
        pause: Callable[[], float] = _pause,
    ) -> None:
        self._tap = tap
        self._judge = judge
        self.window = window
        self._tell = tell
        self._start_timeout = start_timeout
        self._pause = pause
        self.frames: list[JudgedFrame] = []
        self.judged = 0
        self._arrived = asyncio.Event()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End the run early (the connection went): it returns "stopped"."""
        self._stop.set()
        self._arrived.set()

    async def run(self, challenges: list[Challenge]) -> LiveRun:
        collector = asyncio.ensure_future(self._collect())
        try:
            return await self._run(challenges)
        finally:
            # Told, not cancelled: a frame may be in a worker process, and a
            # cancelled pool call costs that worker.
            self._stop.set()
            await collector

    async def _run(self, challenges: list[Challenge]) -> LiveRun:
        if not await self._until(self._steady_face, time.monotonic() + self._start_timeout):
            problem: str = (
                "stopped" if self._stop.is_set() else "no_face" if self.frames else "no_video"
            )
            return LiveRun(challenges, [], list(self.frames), [], problem)
        runs: list[ChallengeRun] = []
        baseline_frames: list[JudgedFrame] = []
        baseline: list[FrameMetrics] = []
        for index, challenge in enumerate(challenges):
            await self._until(lambda: False, time.monotonic() + self._pause())
            if self._stop.is_set():
                break
            if index == 0:
                # The person at rest just before the first prompt: the frames
                # before may show whatever came earlier (on a call, anything).
                settled = self.frames[-1].seconds - BASELINE_SECONDS
                baseline_frames = [f for f in self.frames if f.seconds >= settled]
                baseline = _metrics(baseline_frames)
            sent_at = time.monotonic()
            prompted_at = self._media_time(sent_at)
            await self._tell(
                {
                    "type": "prompt",
                    "index": index,
                    "challenge": challenge.value,
                    "window_ms": round(self.window * 1000),
                }
            )
            until = sent_at + self.window + ARRIVAL_ALLOWANCE

            def shown(sent_at: float = sent_at, until: float = until) -> list[JudgedFrame]:
                return [f for f in self.frames if sent_at <= f.received_at <= until and f.metrics]

            def done(
                challenge: Challenge = challenge, baseline: list[FrameMetrics] = baseline
            ) -> bool:
                return answered(challenge, baseline, _metrics(shown())).detected

            found = await self._until(done, until + MEASURING_ALLOWANCE)
            frames = shown()
            outcome = answered(challenge, baseline, _metrics(frames))
            peak = next((f for f in frames if f.seconds == outcome.peak_seconds), None)
            runs.append(
                ChallengeRun(
                    challenge, prompted_at, found, frames[-1].seconds if found else None, peak
                )
            )
            await self._tell(
                {"type": "verdict", "index": index, "challenge": challenge.value, "detected": found}
            )
            if not found:
                break
        stopped = "stopped" if self._stop.is_set() else None
        return LiveRun(challenges, runs, list(self.frames), baseline_frames, stopped)

    def _steady_face(self) -> bool:
        """One face in most of the last second's frames, over at least half a
        second: a person at rest to measure each movement against."""
        if not self.frames:
            return False
        recent = [f for f in self.frames if f.seconds >= self.frames[-1].seconds - 1.0]
        faces = [f for f in recent if f.metrics]
        return (
            len(faces) >= BASELINE_FRAMES
            and 2 * len(faces) >= len(recent)
            and faces[-1].seconds - faces[0].seconds >= BASELINE_SECONDS
        )

    def _media_time(self, at: float) -> float:
        """The media time the sender's clock showed at server time `at`, from the
        newest frame."""
        latest = self.frames[-1]
        return latest.seconds + (at - latest.received_at)

    async def _until(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Wait for `condition` over the frames measured so far, up to `deadline`
        (server time); False at once when stopped."""
        while not self._stop.is_set():
            self._arrived.clear()
            if condition():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(left):
                    await self._arrived.wait()
            except TimeoutError:
                return condition()
        return False

    async def _collect(self) -> None:
        while not self._stop.is_set():
            tap = self._tap()
            if tap is None:
                await asyncio.sleep(0.05)
                continue
            try:
                async with asyncio.timeout(0.5):
                    frame = await tap.next_frame()
            except TimeoutError:
                continue
            judged = await self._judge.judge(frame)
            if judged is not None:
                self.judged += 1
                self.frames.append(judged)
                self._arrived.set()


def _metrics(frames: list[JudgedFrame]) -> list[FrameMetrics]:
    return [f.metrics for f in frames if f.metrics is not None]
