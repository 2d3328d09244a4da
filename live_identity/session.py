"""One applicant's verification session before the interview: a WebRTC
connection from the phone to the server alone, the challenges the server issues
and times (live_identity.challenges), the face match on frames the server
decoded, against the ID card's portrait.

The session's media is recorded as a call segment is (no re-encode) into the
biometric namespace; the liveness record names it, the frames the decisions came
from (hash and media time), the camera as the browser described it and the
frames' timing as received, with `"source": "verification_session"`. A session
that loses its connection, or never receives a frame, ends without a verdict and
keeps nothing: it costs the applicant no attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from audit import log as audit
from kyc.liveness import Challenge
from kyc.records import LivenessAttempt
from live_identity.actions import LiveIdentityAction
from live_identity.camera import CameraReport
from live_identity.challenges import LiveChallenges, LiveRun
from live_identity.verdict import LiveServices, judge_run, record_run
from media.call import Call, Notify, Side
from media.errors import RecordingNotStored
from media.recording import SegmentInfo
from media.signalling import Message, Offer
from store.blobs import BlobStore
from store.errors import StoreError

log = logging.getLogger(__name__)

SOURCE = "verification_session"
# Enough for the landmark metrics to see a blink (a blink lasts 100-400 ms).
TAP_FPS = 15.0


class _SessionEvents:
    """CallEvents of a session: the segment is kept in the biometric namespace
    when the session reaches a verdict, and only then."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self.keep = True
        self.recording: tuple[SegmentInfo, str] | None = None

    async def record(self, action: str, details: Mapping[str, object]) -> None:
        log.debug("verification session: %s", action)

    async def ended(self, reason: str) -> None:
        return None

    async def segment_started(self, side: Side, index: int, file: Callable[[], Path]) -> None:
        return None

    async def segment_closed(
        self, side: Side, index: int, path: Path, segment: SegmentInfo | None
    ) -> None:
        try:
            if segment is not None and self.keep and self.recording is None:
                try:
                    stored = await self._blobs.put_file(path)
                except (StoreError, OSError) as exc:
                    raise RecordingNotStored(
                        f"the recording could not be stored ({type(exc).__name__})"
                    ) from None
                if stored != segment.sha256:
                    raise RecordingNotStored("the stored recording is not the one written")
                self.recording = (segment, stored)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)


class VerificationSession:
    def __init__(
        self,
        services: LiveServices,
        attempt: LivenessAttempt,
        id_front_sha256: str,
        *,
        actor: audit.Actor,
        user: str,
        notify: Notify,
        request_id: str | None = None,
    ) -> None:
        self.services = services
        self.attempt = attempt
        self._id_front = id_front_sha256
        self._actor = actor
        self._user = user
        self._notify = notify
        self._request_id = request_id
        self._events = _SessionEvents(services.biometric_blobs)
        self.call = Call(
            f"verification-{attempt.id}",
            replace(services.call_settings, tap_fps=TAP_FPS),
            self._events,
        )
        self.challenges = LiveChallenges(
            lambda: self.call.tap,
            services.judge,
            window=services.window_seconds,
            tell=self._tell,
        )
        self.camera: CameraReport | None = None
        self._offers = 0
        self.interrupted: str | None = None

    @property
    def application_id(self) -> str:
        return self.attempt.application_id

    async def join(self) -> None:
        await self.call.join(Side.APPLICANT, self._user, self._notify)

    async def handle(self, message: Message) -> None:
        """A signalling message from the page. A second offer is a reconnect: the
        session's timing no longer holds, so it ends without a verdict."""
        if isinstance(message, Offer):
            self._offers += 1
            if self._offers > 1:
                self.interrupt("reconnected")
                return
        await self.call.handle(Side.APPLICANT, message)

    def camera_reported(self, report: CameraReport) -> None:
        self.camera = report

    def interrupt(self, reason: str) -> None:
        """The page went (or another session replaced this one): no verdict."""
        if self.interrupted is None:
            self.interrupted = reason
        self.challenges.stop()

    async def _tell(self, message: Mapping[str, object]) -> None:
        try:
            await self._notify(message)
        except (ConnectionError, RuntimeError):
            self.interrupt("connection_lost")

    async def run(self, challenges: list[Challenge]) -> dict[str, Any]:
        """The whole session; what the page is told at its end."""
        live = await self.challenges.run(challenges)
        problem = self.interrupted or (live.problem if live.problem != "no_face" else None)
        if problem is not None:
            self._events.keep = False
            await self.call.end(problem)
            await self._record_interrupted(problem, live)
            return {"type": "interrupted", "reason": problem}
        await self.call.end("verification_done")
        return await self._conclude(live)

    async def _record_interrupted(self, reason: str, live: LiveRun) -> None:
        async with self.services.engine.begin() as conn:
            await audit.append(
                conn,
                self._actor,
                LiveIdentityAction.SESSION_INTERRUPTED,
                application_id=self.application_id,
                request_id=self._request_id,
                details={
                    "attempt_id": self.attempt.id,
                    "reason": reason,
                    "frames_judged": len(live.frames),
                },
            )

    async def _conclude(self, live: LiveRun) -> dict[str, Any]:
        passed, result = await judge_run(self.services, live, self._id_front)
        recording = self._events.recording
        result["source"] = SOURCE
        result["recording"] = (
            {"file": recording[0].path.name, "sha256": recording[1]} if recording else None
        )
        result["camera"] = self.camera.as_json() if self.camera else None
        if recording is None:
            # Nothing was recorded (the recorder failed): the decision has no
            # evidence to rest on.
            passed = False
            result["problem"] = "not_recorded"
        return await record_run(
            self.services,
            self._actor,
            self.attempt,
            passed=passed,
            result=result,
            id_front_sha256=self._id_front,
            video_sha256=recording[1] if recording else "",
            request_id=self._request_id,
        )
