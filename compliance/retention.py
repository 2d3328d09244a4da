"""Retention: personal data of closed cases is deleted when its period runs out.

Each kind has its own period, counted from the day the application closed
(approved, rejected, cancelled or expired; an open case keeps everything):
recordings (the interview's WebM segments), images (document photos, liveness
clips and their evidence frames, the selfie, call snapshots) and packages (the
sealed evidence packages kept at export). What is deleted is named, with its
SHA-256, in one `retention.expired` audit entry per kind and application, so the
chain, its checkpoints and packages exported earlier stay verifiable, and a package
made afterwards lists the file as expired instead of failing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit.log import entries_for_application
from compliance.actions import ComplianceAction
from compliance.review_timeline import segments
from loans.states import TERMINAL_STATES
from media.actions import CallAction
from store.blobs import BlobStore
from store.database import read_only
from store.schema import applications, face_matches, kyc_documents, liveness_attempts

logger = logging.getLogger(__name__)


class DataKind(StrEnum):
    RECORDINGS = "recordings"
    IMAGES = "images"
    PACKAGES = "packages"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    recordings: timedelta
    images: timedelta
    packages: timedelta

    def period(self, kind: DataKind) -> timedelta:
        return {
            DataKind.RECORDINGS: self.recordings,
            DataKind.IMAGES: self.images,
            DataKind.PACKAGES: self.packages,
        }[kind]


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    sha256: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "sha256": self.sha256}


async def evidence_image_digests(engine: AsyncEngine, application_id: str) -> set[str]:
    """Every photo, clip and still an application's identity checks and call kept."""
    async with read_only(engine) as conn:
        digests = set(
            (
                await conn.execute(
                    select(kyc_documents.c.image_sha256).where(
                        kyc_documents.c.application_id == application_id
                    )
                )
            ).scalars()
        )
        for row in await conn.execute(
            select(face_matches.c.probe_sha256, face_matches.c.reference_sha256).where(
                face_matches.c.application_id == application_id
            )
        ):
            digests |= {row.probe_sha256, row.reference_sha256}
        for row in await conn.execute(
            select(liveness_attempts.c.video_sha256, liveness_attempts.c.result).where(
                liveness_attempts.c.application_id == application_id
            )
        ):
            if row.video_sha256:
                digests.add(row.video_sha256)
            frames = json.loads(row.result or "{}").get("evidence_frames") or {}
            digests |= {d for d in frames.values() if isinstance(d, str)}
        entries = await entries_for_application(conn, application_id, limit=100_000)
    digests |= {
        str(e.details["sha256"])
        for e in entries
        if e.action == CallAction.SNAPSHOT and isinstance(e.details.get("sha256"), str)
    }
    return digests


class RetentionSweeper:
    def __init__(
        self,
        engine: AsyncEngine,
        blobs: BlobStore,
        policy: RetentionPolicy,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.policy = policy

    async def sweep(self, now: datetime | None = None) -> dict[str, dict[str, int]]:
        """Delete what is due; {application id: {kind: items deleted}} for what was."""
        now = now or datetime.now(UTC)
        shortest = min(self.policy.period(kind) for kind in DataKind)
        async with read_only(self.engine) as conn:
            closed = (
                await conn.execute(
                    select(applications.c.id, applications.c.updated_at).where(
                        applications.c.state.in_([s.value for s in TERMINAL_STATES]),
                        applications.c.updated_at <= now - shortest,
                    )
                )
            ).all()
        done: dict[str, dict[str, int]] = {}
        for application_id, closed_at in closed:
            for kind in DataKind:
                if closed_at + self.policy.period(kind) > now:
                    continue
                due = await self._due(application_id, kind)
                if not due:
                    continue
                # The entry first: a crash between the two leaves files that the
                # next sweep deletes (and records again), never a deletion that
                # the log does not explain.
                await self._record(application_id, kind, due)
                await self._delete(application_id, kind, due)
                done.setdefault(application_id, {})[kind.value] = len(due)
        return done

    async def _due(self, application_id: str, kind: DataKind) -> list[Item]:
        """What of `kind` this application still holds."""
        if kind is DataKind.RECORDINGS:
            async with read_only(self.engine) as conn:
                entries = await entries_for_application(conn, application_id, limit=100_000)
            named = [Item(s.file, s.sha256) for s in segments(entries)]
            return [item for item in named if await self.blobs.exists(item.sha256)]
        if kind is DataKind.IMAGES:
            digests: Iterable[str] = await evidence_image_digests(self.engine, application_id)
        else:
            async with read_only(self.engine) as conn:
                entries = await entries_for_application(conn, application_id, limit=100_000)
            digests = {
                str(e.details["package_sha256"])
                for e in entries
                if e.action
                in (ComplianceAction.EVIDENCE_EXPORTED, ComplianceAction.PERSONAL_DATA_EXPORTED)
                and isinstance(e.details.get("package_sha256"), str)
            }
        return [Item(d, d) for d in sorted(digests) if await self.blobs.exists(d)]

    async def _delete(self, application_id: str, kind: DataKind, items: list[Item]) -> None:
        for item in items:
            await self.blobs.delete(item.sha256)

    async def _record(self, application_id: str, kind: DataKind, items: list[Item]) -> None:
        async with self.engine.begin() as conn:
            await audit.append(
                conn,
                audit.SYSTEM,
                ComplianceAction.RETENTION_EXPIRED,
                application_id=application_id,
                details={
                    "kind": kind.value,
                    "retention_days": self.policy.period(kind).days,
                    "items": [i.as_json() for i in items],
                },
            )
        logger.info(
            "retention: deleting %d %s of application %s", len(items), kind.value, application_id
        )


def expired_digests(entries: Iterable[Any]) -> set[str]:
    """Every SHA-256 the given audit entries record as deleted by retention."""
    found = set()
    for entry in entries:
        if entry.action != ComplianceAction.RETENTION_EXPIRED:
            continue
        for item in entry.details.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                found.add(item["sha256"])
    return found
