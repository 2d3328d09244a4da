"""From a run of live challenges to a recorded liveness decision, the same for
a verification session and a check on the call: the face match on the frames
facing the camera most squarely (on the identity workers), the passive cues over
every frame, the stills kept as biometric data by hash and media time, and the
kyc.liveness record naming the source of the frames."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from kyc.errors import KycError, NotEnoughFrames
from kyc.faces import Decision
from kyc.identity_paths import IdentityRules, verify_when_complete
from kyc.passive import PassiveDecision, assess_clip
from kyc.records import (
    LivenessAttempt,
    complete_liveness,
    failed_liveness_count,
    save_face_match,
)
from kyc.workers import IdentityChecks, SelfieResult
from live_identity.camera import media_report
from live_identity.challenges import LiveRun, media_seconds
from live_identity.frames import FrameJudge, JudgedFrame
from media.call import CallSettings
from store.blobs import BlobStore

FACE_STILLS = 3


@dataclass(frozen=True, slots=True)
class LiveServices:
    engine: AsyncEngine
    blobs: BlobStore  # where the ID card's photo is
    biometric_blobs: BlobStore
    checks: IdentityChecks
    judge: FrameJudge
    call_settings: CallSettings
    face_model: Callable[[], dict[str, str]]
    rules: IdentityRules
    window_seconds: float
    display_timezone: str


async def judge_run(
    services: LiveServices, live: LiveRun, id_front_sha256: str
) -> tuple[bool, dict[str, Any]]:
    """Whether the run passed, and what its record says (the caller adds where the
    frames came from)."""
    stills = {r.challenge.value: r.peak for r in live.runs if r.peak is not None}
    face_frames = _face_frames(live)
    match = await _match(services, face_frames, id_front_sha256)
    try:
        passive = await asyncio.to_thread(
            assess_clip, [f.metrics for f in live.frames if f.metrics is not None]
        )
    except NotEnoughFrames:
        passive = None
    if face_frames:
        stills["face"] = face_frames[0]
    blobs = services.biometric_blobs
    evidence = {name: await blobs.put(frame.jpeg) for name, frame in sorted(stills.items())}
    passed = (
        live.all_detected
        and match is not None
        and match.decision is Decision.MATCH
        and passive is not None
        and passive.decision is not PassiveDecision.SPOOF
    )
    return passed, {
        "detected": live.detected,
        "challenges": [r.as_json() for r in live.runs],
        "window_seconds": media_seconds(services.window_seconds),
        "problem": live.problem,
        "face_distance": f"{match.distance:.4f}" if match else None,
        "face_decision": match.decision.value if match else None,
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
        "media": media_report(live.frames),
    }


async def record_run(
    services: LiveServices,
    actor: audit.Actor,
    attempt: LivenessAttempt,
    *,
    passed: bool,
    result: dict[str, Any],
    id_front_sha256: str,
    video_sha256: str,
    request_id: str | None,
) -> dict[str, Any]:
    """The decision recorded, with the face match on the received frames as a face
    match of its own (named by `result["source"]`); what the page is told of it."""
    probe = result["evidence_frames"].get("face")
    if result["face_decision"] is not None and probe is not None:
        await save_face_match(
            services.engine,
            actor,
            attempt.application_id,
            reference_sha256=id_front_sha256,
            probe_sha256=probe,
            distance=float(result["face_distance"]),
            decision=result["face_decision"],
            face_model=result["face_model"],
            source=result["source"],
            request_id=request_id,
        )
    done = await complete_liveness(
        services.engine,
        actor,
        attempt,
        passed=passed,
        result=result,
        video_sha256=video_sha256,
        request_id=request_id,
    )
    body: dict[str, Any] = {"type": "result", **done.as_json()}
    if passed:
        state = await verify_when_complete(
            services.engine,
            attempt.application_id,
            services.rules.required_sources,
            request_id=request_id,
        )
        body["application_state"] = state.value
    else:
        failed = await failed_liveness_count(services.engine, attempt.application_id)
        body["attempts_left"] = max(services.rules.liveness_attempts - failed, 0)
    return body


async def _match(
    services: LiveServices, frames: list[JudgedFrame], id_front_sha256: str
) -> SelfieResult | None:
    """The face in several received frames against the ID portrait, on the
    identity workers: the median result, or None when no frame held a usable face."""
    if not frames:
        return None
    portrait = await services.blobs.get(id_front_sha256)
    results: list[SelfieResult] = []
    for frame in frames:
        try:
            results.append(await services.checks.match_face(portrait, frame.jpeg))
        except KycError:
            continue
    if not results:
        return None
    return sorted(results, key=lambda r: r.distance)[len(results) // 2]


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
