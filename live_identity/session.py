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
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from kyc.errors import KycError, NotEnoughFrames
from kyc.faces import Decision
from kyc.identity_paths import IdentityRules, verify_when_complete
from kyc.liveness import Challenge
from kyc.passive import PassiveDecision, assess_clip
from kyc.records import LivenessAttempt, complete_liveness, failed_liveness_count
from kyc.workers import IdentityChecks, SelfieResult
from live_identity.actions import LiveIdentityAction
from live_identity.camera import CameraReport, media_report
from live_identity.challenges import LiveChallenges, LiveRun, media_seconds
from live_identity.frames import FrameJudge, JudgedFrame
from media.call import Call, CallSettings, Notify, Side
from media.errors import RecordingNotStored
from media.recording import SegmentInfo
from media.signalling import Message, Offer
from store.blobs import BlobStore
from store.errors import StoreError

log = logging.getLogger(__name__)

SOURCE = "verification_session"
# Enough for the landmark metrics to see a blink (a blink lasts 100-400 ms).
TAP_FPS = 15.0
FACE_STILLS = 3


@dataclass(frozen=True, slots=True)
class SessionServices:
    engine: AsyncEngine
    blobs: BlobStore  # where the ID card's photo is
    biometric_blobs: BlobStore
    checks: IdentityChecks
    judge: FrameJudge
    call_settings: CallSettings
    face_model: Callable[[], dict[str, str]]
    rules: IdentityRules
    window_seconds: float


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
        services: SessionServices,
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
        services = self.services
        blobs = services.biometric_blobs
        stills = {r.challenge.value: r.peak for r in live.runs if r.peak is not None}
        face_frames = _face_frames(live)
        match = await self._match(face_frames)
        try:
            passive = await asyncio.to_thread(
                assess_clip, [f.metrics for f in live.frames if f.metrics is not None]
            )
        except NotEnoughFrames:
            passive = None
        if face_frames:
            stills["face"] = face_frames[0]
        evidence = {name: await blobs.put(frame.jpeg) for name, frame in sorted(stills.items())}
        recording = self._events.recording
        passed = (
            live.all_detected
            and match is not None
            and match[1] is Decision.MATCH
            and passive is not None
            and passive.decision is not PassiveDecision.SPOOF
        )
        result: dict[str, Any] = {
            "source": SOURCE,
            "detected": live.detected,
            "challenges": [r.as_json() for r in live.runs],
            "window_seconds": media_seconds(services.window_seconds),
            "problem": live.problem,
            "face_distance": f"{match[0]:.4f}" if match else None,
            "face_decision": match[1].value if match else None,
            "face_model": services.face_model(),
            "face_problem": None if match else "no usable face in the frames received",
            "face_frames": [
                {"seconds": media_seconds(f.seconds), "sha256": f.sha256} for f in face_frames
            ],
            "passive": passive.as_json() if passive else None,
            "evidence_frames": evidence,
            "evidence_frame_seconds": {
                name: media_seconds(frame.seconds) for name, frame in sorted(stills.items())
            },
            "media_range": (
                [media_seconds(live.frames[0].seconds), media_seconds(live.frames[-1].seconds)]
                if live.frames
                else None
            ),
            "recording": (
                {"file": recording[0].path.name, "sha256": recording[1]} if recording else None
            ),
            "camera": self.camera.as_json() if self.camera else None,
            "media": media_report(live.frames),
        }
        if recording is None:
            # Nothing was recorded (the recorder failed): the decision has no
            # evidence to rest on.
            passed = False
            result["problem"] = "not_recorded"
        done = await complete_liveness(
            services.engine,
            self._actor,
            self.attempt,
            passed=passed,
            result=result,
            video_sha256=recording[1] if recording else "",
            request_id=self._request_id,
        )
        body: dict[str, Any] = {"type": "result", **done.as_json()}
        if passed:
            state = await verify_when_complete(
                services.engine,
                self.application_id,
                services.rules.required_sources,
                request_id=self._request_id,
            )
            body["application_state"] = state.value
        else:
            failed = await failed_liveness_count(services.engine, self.application_id)
            body["attempts_left"] = max(services.rules.liveness_attempts - failed, 0)
        return body

    async def _match(self, frames: list[JudgedFrame]) -> tuple[float, Decision] | None:
        """The face in several received frames against the ID portrait, on the
        identity workers: the median result, or None when no frame held a usable
        face."""
        if not frames:
            return None
        portrait = await self.services.blobs.get(self._id_front)
        results: list[SelfieResult] = []
        for frame in frames:
            try:
                results.append(await self.services.checks.match_face(portrait, frame.jpeg))
            except KycError:
                continue
        if not results:
            return None
        middle = sorted(results, key=lambda r: r.distance)[len(results) // 2]
        return middle.distance, middle.decision


def _face_frames(live: LiveRun) -> list[JudgedFrame]:
    """The frames facing the camera most squarely, from different moments: the
    face match is quality-gated by kyc.faces as well."""
    faces = [f for f in live.frames if f.metrics is not None]
    if not faces:
        return []
    rest = [f.metrics for f in live.baseline or faces if f.metrics is not None]
    yaw = median(m.yaw for m in rest)
    pitch = median(m.pitch for m in rest)

    def turned(frame: JudgedFrame) -> float:
        assert frame.metrics is not None
        return abs(frame.metrics.yaw - yaw) + abs(frame.metrics.pitch - pitch)

    chosen: list[JudgedFrame] = []
    for frame in sorted(faces, key=turned):
        if all(abs(frame.seconds - c.seconds) >= 0.3 for c in chosen):
            chosen.append(frame)
        if len(chosen) == FACE_STILLS:
            break
    return chosen
