"""Retention: personal data of closed cases is deleted when its period runs out.

Each kind has its own period, counted from the day the application closed
(approved, rejected, cancelled or expired; an open case keeps everything):
recordings (the interview's segments), images (document photos and call
snapshots), biometrics (the selfie, liveness clips and their evidence frames:
sensitive personal information under PIPL Art. 28, kept the shortest) and
packages (the sealed evidence packages kept at export). What is deleted is named,
with its SHA-256, in one `retention.expired` audit entry per kind and
application, so the chain, its checkpoints and packages exported earlier stay
verifiable, and a package made afterwards lists the file as expired instead of
failing. Deletions before the period ends (a withdrawn biometric consent, an
erasure request) take the same path with their own entry (compliance/erasure.py).
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
from audit.chain import AuditEntry
from audit.log import entries_for_application
from compliance.actions import DELETIONS, ComplianceAction
from compliance.review_timeline import segments
from kyc.actions import KycAction
from loans.states import TERMINAL_STATES
from media.actions import CallAction
from store.blobs import BlobNamespaces, BlobStore
from store.database import read_only
from store.schema import applications, face_matches, kyc_documents, liveness_attempts

logger = logging.getLogger(__name__)


class DataKind(StrEnum):
    RECORDINGS = "recordings"
    IMAGES = "images"
    BIOMETRICS = "biometrics"
    PACKAGES = "packages"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    recordings: timedelta
    images: timedelta
    biometrics: timedelta
    packages: timedelta

    def period(self, kind: DataKind) -> timedelta:
        return {
            DataKind.RECORDINGS: self.recordings,
            DataKind.IMAGES: self.images,
            DataKind.BIOMETRICS: self.biometrics,
            DataKind.PACKAGES: self.packages,
        }[kind]


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    sha256: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "sha256": self.sha256}


async def document_image_digests(engine: AsyncEngine, application_id: str) -> set[str]:
    """The document photos an application's checks read, and its call snapshots."""
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
        entries = await entries_for_application(conn, application_id, limit=100_000)
    # Call snapshots, and documents held up to the camera on the call as read off
    # the video.
    return (
        digests
        | _named(entries, CallAction.SNAPSHOT, "sha256")
        | _named(entries, KycAction.DOCUMENT_SHOWN, "image_sha256")
    )


def _named(entries: list[AuditEntry], action: str, key: str) -> set[str]:
    """The digests entries of `action` name under `key`."""
    return {
        str(e.details[key])
        for e in entries
        if e.action == action and isinstance(e.details.get(key), str)
    }


async def biometric_digests(engine: AsyncEngine, application_id: str) -> set[str]:
    """The selfies, liveness clips and their evidence frames an application holds
    (the face match's reference is the ID card's photo, a document image)."""
    async with read_only(engine) as conn:
        digests = set(
            (
                await conn.execute(
                    select(face_matches.c.probe_sha256).where(
                        face_matches.c.application_id == application_id
                    )
                )
            ).scalars()
        )
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
    # The live face a document's portrait was matched against on the call.
    digests |= {
        str(e.details["live_face_sha256"])
        for e in entries
        if e.action == KycAction.DOCUMENT_SHOWN
        and isinstance(e.details.get("live_face_sha256"), str)
    }
    return digests


class RetentionSweeper:
    def __init__(
        self,
        engine: AsyncEngine,
        stores: BlobNamespaces,
        policy: RetentionPolicy,
    ) -> None:
        self.engine = engine
        self.stores = stores
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
                await record_and_delete(
                    self.engine,
                    store_for(self.stores, kind),
                    audit.SYSTEM,
                    ComplianceAction.RETENTION_EXPIRED,
                    application_id,
                    {"kind": kind.value, "retention_days": self.policy.period(kind).days},
                    due,
                )
                logger.info(
                    "retention: deleted %d %s of application %s",
                    len(due),
                    kind.value,
                    application_id,
                )
                done.setdefault(application_id, {})[kind.value] = len(due)
        return done

    async def _due(self, application_id: str, kind: DataKind) -> list[Item]:
        """What of `kind` this application still holds."""
        if kind is DataKind.RECORDINGS:
            async with read_only(self.engine) as conn:
                entries = await entries_for_application(conn, application_id, limit=100_000)
            named = [Item(s.file, s.sha256) for s in segments(entries)]
            return [item for item in named if await self.stores.main.exists(item.sha256)]
        if kind is DataKind.IMAGES:
            digests: Iterable[str] = await document_image_digests(self.engine, application_id)
        elif kind is DataKind.BIOMETRICS:
            digests = await biometric_digests(self.engine, application_id)
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
        return await stored_items(store_for(self.stores, kind), digests)


def store_for(stores: BlobNamespaces, kind: DataKind) -> BlobStore:
    """Biometric data lives in a namespace of its own (store/blobs.py)."""
    return stores.biometrics if kind is DataKind.BIOMETRICS else stores.main


async def stored_items(blobs: BlobStore, digests: Iterable[str]) -> list[Item]:
    """The digests whose blobs are still stored, each named by its hash."""
    return [Item(d, d) for d in sorted(digests) if await blobs.exists(d)]


async def record_and_delete(
    engine: AsyncEngine,
    blobs: BlobStore,
    actor: audit.Actor,
    action: ComplianceAction,
    application_id: str,
    details: dict[str, Any],
    items: list[Item],
    request_id: str | None = None,
) -> None:
    """One audit entry naming every item with its SHA-256, then the deletions. The
    entry first: a crash between the two leaves files that the next sweep deletes
    (and records again), never a deletion that the log does not explain."""
    async with engine.begin() as conn:
        await audit.append(
            conn,
            actor,
            action,
            application_id=application_id,
            request_id=request_id,
            details={**details, "items": [i.as_json() for i in items]},
        )
    for item in items:
        await blobs.delete(item.sha256)


def expired_digests(entries: Iterable[Any]) -> set[str]:
    """Every SHA-256 the given audit entries record as deleted, by retention or
    before it (a withdrawn consent, an erasure request)."""
    found = set()
    for entry in entries:
        if entry.action not in DELETIONS:
            continue
        for item in entry.details.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                found.add(item["sha256"])
    return found
