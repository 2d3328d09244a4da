"""Document reading and face matching in worker processes, off the event loop.

Each worker loads the OCR models once; the pool (workers.pool) bounds memory and
time, so a pathological image cannot hold a worker forever or exhaust the host.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from statistics import median
from typing import Any, Protocol, TypeVar

import cv2

from kyc.checks import id_card_checks, licence_checks
from kyc.documents.id_card import ID_CARD, parse_id_card
from kyc.documents.licence import LICENCE, parse_licence
from kyc.errors import (
    CorruptImage,
    NotEnoughFrames,
    NoUsableFace,
    ReadTimedOut,
    TooLarge,
    TooManyPixels,
    WorkerFailed,
)
from kyc.face_engine import FaceConfig, configure
from kyc.face_engine import engine as face_engine
from kyc.face_thresholds import thresholds_for
from kyc.facematch import samples_from
from kyc.faces import Decision, aggregate_distance, decide, sample
from kyc.intake import MAX_CLIP_PIXELS, MAX_CLIP_SECONDS, inspect_upload, sniff_video
from kyc.liveness import Challenge, clip_metrics, evaluate, frames_at
from kyc.ocr import decode_image, get_engine
from kyc.passive import PassiveDecision, PassiveResult, assess_clip
from kyc.reading import DocumentReading
from kyc.rectify import upright_lines
from workers.errors import WorkerCrashed, WorkTimedOut
from workers.pool import BoundedPool

T = TypeVar("T")


class DocumentKind(StrEnum):
    ID_FRONT = "id_front"
    ID_BACK = "id_back"
    LICENCE = "licence"


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the application says, to compare the documents against."""

    legal_representative: str
    company_name: str
    credit_code: str


@dataclass(frozen=True, slots=True)
class UploadResult:
    stored_image: bytes  # upright JPEG without metadata
    reading: DocumentReading


def _load_models(face: FaceConfig) -> None:
    configure(face)
    get_engine()
    # Loads the face model, and refuses to start without thresholds for it.
    thresholds_for(face_engine().description, face.thresholds)


def process_upload(
    kind: DocumentKind, data: bytes, today: date, expect: Expectations
) -> UploadResult:
    """Intake checks, OCR, parsing and field checks for one uploaded photo."""
    image = inspect_upload(data)
    if kind is DocumentKind.LICENCE:
        fields = parse_licence(upright_lines(image.pixels, LICENCE))
        checks = licence_checks(
            fields,
            expected_company=expect.company_name,
            expected_credit_code=expect.credit_code,
            expected_legal_representative=expect.legal_representative,
        )
    else:
        fields = parse_id_card(upright_lines(image.pixels, ID_CARD))
        checks = id_card_checks(fields, today=today, expected_name=expect.legal_representative)
    return UploadResult(image.stored_bytes, DocumentReading(fields, checks))


@dataclass(frozen=True, slots=True)
class SelfieResult:
    stored_image: bytes  # upright JPEG without metadata
    distance: float
    decision: Decision


def process_selfie(id_front_image: bytes, selfie: bytes) -> SelfieResult:
    """Compare the face in a selfie with the portrait on the stored ID card front."""
    probe = inspect_upload(selfie)
    live = sample(probe.pixels)
    portrait = sample(decode_image(id_front_image), portrait=True)
    value = aggregate_distance(portrait, [live])
    return SelfieResult(probe.stored_bytes, value, decide(value))


@dataclass(frozen=True, slots=True)
class LivenessResult:
    detected: list[bool]
    distance: float | None  # None when no frame held a usable face
    decision: Decision | None
    face_problem: str | None
    passive: PassiveResult | None  # None when too few frames held a face
    # JPEG stills kept as evidence: the peak of each challenge, by challenge name,
    # and "face", the middle of the clip the face match used.
    evidence: dict[str, bytes]

    @property
    def passed(self) -> bool:
        return (
            all(self.detected)
            and self.decision is Decision.MATCH
            and self.passive is not None
            and self.passive.decision is not PassiveDecision.SPOOF
        )


def process_liveness(
    video: bytes,
    id_front_image: bytes,
    challenges: list[Challenge],
    lead_in: float,
    window: float,
) -> LivenessResult:
    """Check the recorded clip: each challenge in its window, the passive cues over
    the whole clip, and the face in the clip against the ID card portrait (median
    over several frames)."""
    suffix = sniff_video(video)
    # A fixed name in a private directory: the readers' messages name the file,
    # and a temporary file's random name is nothing to show an applicant.
    with tempfile.TemporaryDirectory(prefix="signroom-clip-") as directory:
        path = Path(directory) / f"recording{suffix}"
        path.write_bytes(video)
        check_clip(path)
        metrics = clip_metrics(path)
        outcomes = evaluate(metrics, challenges, lead_in=lead_in, window=window)
        try:
            passive: PassiveResult | None = assess_clip(metrics)
        except NotEnoughFrames:
            passive = None
        moments = {
            o.challenge.value: o.peak_seconds for o in outcomes if o.peak_seconds is not None
        }
        moments["face"] = median(m.seconds for m in metrics)
        stills = frames_at(path, list(moments.values()))
        evidence = {name: stills[time] for name, time in moments.items() if time in stills}
        detected = [o.detected for o in outcomes]
        try:
            live = samples_from(path)
        except NoUsableFace as exc:
            return LivenessResult(detected, None, None, str(exc), passive, evidence)
    portrait = sample(decode_image(id_front_image), portrait=True)
    value = aggregate_distance(portrait, live)
    return LivenessResult(detected, value, decide(value), None, passive, evidence)


def check_clip(path: Path) -> None:
    """Refuse what is not a short, ordinary video before decoding all of it."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise CorruptImage("the recording could not be read; record it again")
        width = capture.get(cv2.CAP_PROP_FRAME_WIDTH)
        height = capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        capture.release()
    if width * height <= 0:
        raise CorruptImage("the recording could not be read; record it again")
    if width * height > MAX_CLIP_PIXELS:
        raise TooManyPixels("record at most 1920 x 1080")
    # Browsers' WebM often declares no frame count; clip_metrics stops at the end.
    if frames > 0 and frames / fps > MAX_CLIP_SECONDS:
        raise TooLarge(f"the recording is longer than {MAX_CLIP_SECONDS:.0f} seconds")


class IdentityChecks(Protocol):
    """The identity checks a node asks for: in its own worker processes
    (`KycWorkers`) or as jobs for `signroom worker`s (jobs/)."""

    async def read(
        self, kind: DocumentKind, data: bytes, *, today: date, expect: Expectations
    ) -> UploadResult: ...

    async def match_face(self, id_front_image: bytes, selfie: bytes) -> SelfieResult: ...

    async def check_liveness(
        self,
        video: bytes,
        id_front_image: bytes,
        challenges: list[Challenge],
        *,
        lead_in: float,
        window: float,
    ) -> LivenessResult: ...

    def status(self) -> dict[str, Any]:
        """For /readyz: whether checks can run now."""
        ...

    def close(self) -> None: ...


class KycWorkers:
    def __init__(
        self,
        *,
        processes: int,
        timeout_seconds: float,
        memory_limit_bytes: int,
        face: FaceConfig,
    ) -> None:
        self._pool = BoundedPool(
            processes=processes,
            timeout_seconds=timeout_seconds,
            memory_limit_bytes=memory_limit_bytes,
            initializer=functools.partial(_load_models, face),
        )

    @property
    def processes(self) -> int:
        return self._pool.processes

    @property
    def timeout(self) -> float:
        return self._pool.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self._pool.timeout = seconds

    async def read(
        self, kind: DocumentKind, data: bytes, *, today: date, expect: Expectations
    ) -> UploadResult:
        return await self._run(process_upload, kind, data, today, expect)

    async def match_face(self, id_front_image: bytes, selfie: bytes) -> SelfieResult:
        return await self._run(process_selfie, id_front_image, selfie)

    async def check_liveness(
        self,
        video: bytes,
        id_front_image: bytes,
        challenges: list[Challenge],
        *,
        lead_in: float,
        window: float,
    ) -> LivenessResult:
        return await self._run(process_liveness, video, id_front_image, challenges, lead_in, window)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return await self._pool.run(function, *args)
        except WorkTimedOut:
            raise ReadTimedOut("the check took too long; please try again") from None
        except WorkerCrashed:
            raise WorkerFailed("the upload could not be processed; please try again") from None

    def status(self) -> dict[str, Any]:
        return {"ok": True, "where": "this node", "processes": self.processes}

    def close(self) -> None:
        self._pool.close()
