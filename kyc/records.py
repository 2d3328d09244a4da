"""Storing document readings with their audit entries, and reading them back."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from kyc import idnumber
from kyc.actions import KycAction
from kyc.errors import AttemptUsed
from kyc.fields import Check, Field
from kyc.liveness import Challenge
from kyc.reading import DocumentReading
from kyc.workers import DocumentKind
from store.rows import newest_row, record_from_row
from store.schema import face_matches, kyc_documents, liveness_attempts


@dataclass(frozen=True, slots=True)
class StoredReading:
    id: str
    kind: DocumentKind
    image_sha256: str
    fields: dict[str, Field]
    checks: list[Check]
    passed: bool
    created_at: datetime

    def as_json(self, *, reveal_id_number: bool) -> dict[str, Any]:
        fields = {name: field.as_json() for name, field in self.fields.items()}
        if "id_number" in fields and not reveal_id_number:
            fields["id_number"]["value"] = idnumber.mask(fields["id_number"]["value"])
        return {
            "id": self.id,
            "kind": self.kind.value,
            "image_sha256": self.image_sha256,
            "fields": fields,
            "checks": [check.as_json() for check in self.checks],
            "passed": self.passed,
            "created_at": self.created_at.isoformat(timespec="seconds"),
        }


async def save_reading(
    engine: AsyncEngine,
    actor: audit.Actor,
    application_id: str,
    kind: DocumentKind,
    image_sha256: str,
    reading: DocumentReading,
    *,
    request_id: str | None = None,
) -> StoredReading:
    """The reading and its audit entry, in one transaction. The audit entry names
    the image hash, which fields were read and which checks failed: never values."""
    now = datetime.now(UTC)
    passed = reading.passed
    stored = StoredReading(
        str(uuid.uuid4()), kind, image_sha256, reading.fields, reading.checks, passed, now
    )
    async with engine.begin() as conn:
        await conn.execute(
            kyc_documents.insert().values(
                id=stored.id,
                application_id=application_id,
                kind=kind.value,
                image_sha256=image_sha256,
                fields=json.dumps(
                    {k: v.as_json() for k, v in reading.fields.items()}, ensure_ascii=False
                ),
                checks=json.dumps([c.as_json() for c in reading.checks], ensure_ascii=False),
                passed=passed,
                created_at=now,
            )
        )
        await audit.append(
            conn,
            actor,
            KycAction.DOCUMENT_READ,
            application_id=application_id,
            request_id=request_id,
            details={
                "document_id": stored.id,
                "kind": kind.value,
                "image_sha256": image_sha256,
                "fields_read": sorted(reading.fields),
                "checks": {check.name: check.passed for check in reading.checks},
            },
            at=now,
        )
    return stored


async def latest_readings(engine: AsyncEngine, application_id: str) -> dict[str, StoredReading]:
    """The newest reading of each document kind."""
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(kyc_documents)
                    .where(kyc_documents.c.application_id == application_id)
                    .order_by(kyc_documents.c.created_at)
                )
            )
            .mappings()
            .all()
        )
    latest: dict[str, StoredReading] = {}
    for row in rows:
        fields = {
            name: Field(value["value"], value["confidence"])
            for name, value in json.loads(row["fields"]).items()
        }
        checks = [Check.from_json(c) for c in json.loads(row["checks"])]
        latest[row["kind"]] = StoredReading(
            row["id"],
            DocumentKind(row["kind"]),
            row["image_sha256"],
            fields,
            checks,
            row["passed"],
            row["created_at"],
        )
    return latest


@dataclass(frozen=True, slots=True)
class StoredFaceMatch:
    id: str
    reference_sha256: str
    probe_sha256: str
    distance: str
    decision: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference_sha256": self.reference_sha256,
            "probe_sha256": self.probe_sha256,
            "distance": self.distance,
            "decision": self.decision,
            "created_at": self.created_at.isoformat(timespec="seconds"),
        }


async def save_face_match(
    engine: AsyncEngine,
    actor: audit.Actor,
    application_id: str,
    *,
    reference_sha256: str,
    probe_sha256: str,
    distance: float,
    decision: str,
    face_model: dict[str, str],
    source: str,
    request_id: str | None = None,
) -> StoredFaceMatch:
    """`source`: where the probe came from ("upload", "verification_session",
    "call"), named in the audit entry."""
    now = datetime.now(UTC)
    stored = StoredFaceMatch(
        str(uuid.uuid4()), reference_sha256, probe_sha256, f"{distance:.4f}", decision, now
    )
    async with engine.begin() as conn:
        await conn.execute(
            face_matches.insert().values(
                id=stored.id,
                application_id=application_id,
                reference_sha256=reference_sha256,
                probe_sha256=probe_sha256,
                distance=stored.distance,
                decision=decision,
                created_at=now,
            )
        )
        await audit.append(
            conn,
            actor,
            KycAction.FACE_MATCH,
            application_id=application_id,
            request_id=request_id,
            details={
                "face_match_id": stored.id,
                "reference_sha256": reference_sha256,
                "probe_sha256": probe_sha256,
                "distance": stored.distance,
                "decision": decision,
                "face_model": face_model,
                "source": source,
            },
            at=now,
        )
    return stored


async def latest_face_match(engine: AsyncEngine, application_id: str) -> StoredFaceMatch | None:
    async with engine.connect() as conn:
        row = await newest_row(
            conn,
            face_matches,
            face_matches.c.created_at,
            face_matches.c.application_id == application_id,
        )
    return record_from_row(StoredFaceMatch, row) if row else None


@dataclass(frozen=True, slots=True)
class LivenessAttempt:
    id: str
    application_id: str
    challenges: list[Challenge]
    issued_at: datetime
    expires_at: datetime
    status: str  # issued, passed, failed
    result: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "challenges": [c.value for c in self.challenges],
            "issued_at": self.issued_at.isoformat(timespec="seconds"),
            "expires_at": self.expires_at.isoformat(timespec="seconds"),
            "status": self.status,
            "result": self.result,
        }


def _attempt(row: RowMapping) -> LivenessAttempt:
    return record_from_row(
        LivenessAttempt,
        row,
        challenges=[Challenge(c) for c in json.loads(row["challenges"])],
        result=json.loads(row["result"]) if row["result"] else None,
    )


async def issue_liveness(
    engine: AsyncEngine,
    actor: audit.Actor,
    application_id: str,
    challenges: list[Challenge],
    *,
    valid_for: timedelta,
    request_id: str | None = None,
) -> LivenessAttempt:
    now = datetime.now(UTC)
    attempt = LivenessAttempt(
        str(uuid.uuid4()), application_id, challenges, now, now + valid_for, "issued", None
    )
    async with engine.begin() as conn:
        await conn.execute(
            liveness_attempts.insert().values(
                id=attempt.id,
                application_id=application_id,
                challenges=json.dumps([c.value for c in challenges]),
                issued_at=now,
                expires_at=attempt.expires_at,
                status="issued",
            )
        )
        await audit.append(
            conn,
            actor,
            KycAction.LIVENESS_ISSUED,
            application_id=application_id,
            request_id=request_id,
            details={"attempt_id": attempt.id, "challenges": [c.value for c in challenges]},
            at=now,
        )
    return attempt


async def get_liveness(
    engine: AsyncEngine, application_id: str, attempt_id: str
) -> LivenessAttempt | None:
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(liveness_attempts).where(
                        liveness_attempts.c.id == attempt_id,
                        liveness_attempts.c.application_id == application_id,
                    )
                )
            )
            .mappings()
            .first()
        )
    return _attempt(row) if row else None


async def failed_liveness_count(
    engine: AsyncEngine, application_id: str, *, since: datetime | None = None
) -> int:
    """Failed attempts, all of them or those issued at or after `since`."""
    conditions = [
        liveness_attempts.c.application_id == application_id,
        liveness_attempts.c.status == "failed",
    ]
    if since is not None:
        conditions.append(liveness_attempts.c.issued_at >= since)
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count()).select_from(liveness_attempts).where(*conditions)
                )
            ).scalar_one()
        )


async def complete_liveness(
    engine: AsyncEngine,
    actor: audit.Actor,
    attempt: LivenessAttempt,
    *,
    passed: bool,
    result: dict[str, Any],
    video_sha256: str,
    request_id: str | None = None,
) -> LivenessAttempt:
    """Record the outcome once: a second completion of the same attempt is refused
    by the status condition (the update matches no row)."""
    now = datetime.now(UTC)
    status = "passed" if passed else "failed"
    async with engine.begin() as conn:
        updated = await conn.execute(
            liveness_attempts.update()
            .where(liveness_attempts.c.id == attempt.id, liveness_attempts.c.status == "issued")
            .values(
                status=status,
                result=json.dumps(result),
                video_sha256=video_sha256,
                completed_at=now,
            )
        )
        if updated.rowcount != 1:
            raise AttemptUsed("this liveness attempt has been used; start a new one")
        await audit.append(
            conn,
            actor,
            KycAction.LIVENESS,
            application_id=attempt.application_id,
            request_id=request_id,
            details={
                "attempt_id": attempt.id,
                "status": status,
                "video_sha256": video_sha256,
                **result,
            },
            at=now,
        )
    return replace(attempt, status=status, result=result)


async def documents_passed(engine: AsyncEngine, application_id: str) -> bool:
    """All three documents read, each with every check passed."""
    readings = await latest_readings(engine, application_id)
    if {kind.value for kind in DocumentKind} - set(readings):
        return False
    return all(reading.passed for reading in readings.values())


async def identity_evidence_complete(engine: AsyncEngine, application_id: str) -> bool:
    """All three documents read with every check passed, and a passed liveness
    attempt whose face matched the ID card portrait."""
    if not await documents_passed(engine, application_id):
        return False
    async with engine.connect() as conn:
        passed = (
            await conn.execute(
                select(func.count())
                .select_from(liveness_attempts)
                .where(
                    liveness_attempts.c.application_id == application_id,
                    liveness_attempts.c.status == "passed",
                )
            )
        ).scalar_one()
    return bool(passed)


async def face_review_pending(engine: AsyncEngine, application_id: str) -> bool:
    """Everything passed except that the face match fell in the review band: the
    documents' checks all passed, and the latest liveness attempt saw every
    challenge and no spoof. Only then may a manager confirm the identity by eye."""
    if not await documents_passed(engine, application_id):
        return False
    attempt = await latest_liveness(engine, application_id)
    if attempt is None or attempt.result is None:
        return False
    result = attempt.result
    passive = result.get("passive") or {}
    return (
        all(result["detected"].values())
        and result.get("face_decision") == "review"
        and passive.get("decision") in {"live", "review"}
    )


async def latest_liveness(engine: AsyncEngine, application_id: str) -> LivenessAttempt | None:
    async with engine.connect() as conn:
        row = await newest_row(
            conn,
            liveness_attempts,
            liveness_attempts.c.issued_at,
            liveness_attempts.c.application_id == application_id,
        )
    return _attempt(row) if row else None


async def latest_passed_liveness(
    engine: AsyncEngine, application_id: str
) -> LivenessAttempt | None:
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(liveness_attempts)
                    .where(
                        liveness_attempts.c.application_id == application_id,
                        liveness_attempts.c.status == "passed",
                    )
                    .order_by(liveness_attempts.c.completed_at.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
    return _attempt(row) if row else None
