"""Personal data deleted before its retention period ends, on the same sealed,
audited path as retention (compliance/retention.py): a biometric consent withdrawn
before signing, and a data subject's deletion request.

Once the contract is signed, the identity evidence it rests on is kept under the
bank's record-keeping obligation until retention deletes it: a withdrawal then
stops further biometric processing and the applicant is told the evidence is
kept; a deletion request is recorded as refused with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit.log import entries_for_application
from compliance.actions import ComplianceAction
from compliance.retention import (
    DataKind,
    Item,
    biometric_digests,
    document_image_digests,
    record_and_delete,
    store_for,
    stored_items,
)
from compliance.review_timeline import segments
from loans.states import State
from store.blobs import BlobNamespaces, BlobStore
from store.database import read_only

# From here on a signed contract rests on the evidence.
SIGNED_STATES = frozenset(
    {State.CONTRACT_SIGNED, State.UNDER_REVIEW, State.FLAGGED, State.APPROVED, State.REJECTED}
)


@dataclass(frozen=True, slots=True)
class Erasure:
    deleted: dict[DataKind, list[Item]]
    # True when a signed contract keeps the evidence: nothing was deleted.
    kept_for_contract: bool

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.deleted.values())

    def as_json(self) -> dict[str, object]:
        return {
            "kept_for_contract": self.kept_for_contract,
            "deleted": {kind.value: len(items) for kind, items in self.deleted.items()},
        }


async def _held(
    engine: AsyncEngine, blobs: BlobStore, application_id: str, kind: DataKind
) -> list[Item]:
    if kind is DataKind.BIOMETRICS:
        return await stored_items(blobs, await biometric_digests(engine, application_id))
    if kind is DataKind.IMAGES:
        return await stored_items(blobs, await document_image_digests(engine, application_id))
    if kind is DataKind.RECORDINGS:
        async with read_only(engine) as conn:
            entries = await entries_for_application(conn, application_id, limit=100_000)
        return [Item(s.file, s.sha256) for s in segments(entries) if await blobs.exists(s.sha256)]
    raise ValueError(f"{kind} is not erased on request")


async def erase(
    engine: AsyncEngine,
    stores: BlobNamespaces,
    actor: audit.Actor,
    application_id: str,
    state: State,
    kinds: tuple[DataKind, ...],
    *,
    reason: str,
    request_id: str | None = None,
) -> Erasure:
    """Delete what the application holds of `kinds`, one sealed entry per kind
    naming each file and its SHA-256; nothing once a contract is signed."""
    if state in SIGNED_STATES:
        return Erasure({}, kept_for_contract=True)
    deleted: dict[DataKind, list[Item]] = {}
    for kind in kinds:
        blobs = store_for(stores, kind)
        items = await _held(engine, blobs, application_id, kind)
        if not items:
            continue
        await record_and_delete(
            engine,
            blobs,
            actor,
            ComplianceAction.PERSONAL_DATA_DELETED,
            application_id,
            {"kind": kind.value, "reason": reason},
            items,
            request_id,
        )
        deleted[kind] = items
    return Erasure(deleted, kept_for_contract=False)
