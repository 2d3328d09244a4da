"""Recording segments kept safe while they are written, and what is left of one
whose node died.

A segment is written to a local file as the call runs (media/recording.py) and
stored whole in the blob store when it closes. Meanwhile every few seconds the
bytes added since the last time go to the blob store as a piece, indexed in the
database (`recording_chunks`). If the node dies, the node that takes the call
over joins the pieces into the segment's recording, named in the audit log
(`call.segment_recovered`) with how much at most was lost: the time between the
last piece and the moment the loss was noticed. Matroska keeps its clusters
readable when the last one is cut short, so the joined pieces play up to there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from cluster.placement import Placement, Placements
from media.actions import CallAction
from store.blobs import BlobStore
from store.errors import StoreError
from store.schema import recording_chunks

log = logging.getLogger(__name__)

# At most this much of a recording is lost when its node dies (plus the time the
# loss takes to notice).
PIECE_SECONDS = 5.0
_STARTED = re.compile(r"-(\d{8}T\d{6}Z)\.\w+$")


@dataclass(frozen=True, slots=True)
class _Piece:
    side: str
    segment: int
    sha256: str
    offset: int
    uploaded_at: datetime


@dataclass(eq=False)
class _Writing:
    placement: Placement
    side: str
    index: int
    # The recorder names its file once it knows the video format (.webm or .mkv).
    file: Callable[[], Path]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    offset: int = 0
    seq: int = 0
    task: asyncio.Task[None] | None = None


class RecordingSpool:
    def __init__(
        self,
        engine: AsyncEngine,
        blobs: BlobStore,
        placements: Placements,
        *,
        piece_seconds: float = PIECE_SECONDS,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.placements = placements
        self.piece_seconds = piece_seconds
        self._writing: dict[tuple[str, int, str, int], _Writing] = {}

    def start(self, placement: Placement, side: str, index: int, file: Callable[[], Path]) -> None:
        writing = _Writing(placement, side, index, file)
        writing.task = asyncio.create_task(self._keep(writing))
        self._writing[(placement.application_id, placement.epoch, side, index)] = writing

    async def finish(
        self, placement: Placement, side: str, index: int, name: str, stored: str | None
    ) -> None:
        """The segment written to file `name` is stored whole as blob `stored`, or
        gave nothing (None): its pieces go."""
        key = (placement.application_id, placement.epoch, side, index)
        writing = self._writing.pop(key, None)
        if writing is not None and writing.task is not None:
            writing.stop.set()
            await asyncio.gather(writing.task, return_exceptions=True)
        await self._forget(placement.application_id, name, keep=stored)

    async def close(self) -> None:
        """At shutdown: stop spooling (the segments close and are stored whole)."""
        for writing in list(self._writing.values()):
            writing.stop.set()
        await asyncio.gather(
            *(w.task for w in self._writing.values() if w.task is not None),
            return_exceptions=True,
        )

    async def _keep(self, writing: _Writing) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.piece_seconds):
                    await writing.stop.wait()
            if writing.stop.is_set():
                return
            try:
                await self._piece(writing)
            except (StoreError, OSError):
                # The next round tries again from the same offset.
                log.warning("a piece of a recording could not be kept yet", exc_info=True)

    async def _piece(self, writing: _Writing) -> None:
        path = writing.file()
        if not await asyncio.to_thread(path.exists):
            return  # nothing written yet
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        if size <= writing.offset:
            return
        data = await asyncio.to_thread(_read, path, writing.offset, size)
        digest = await self.blobs.put(data)
        async with self.engine.begin() as conn:
            await self.placements.hold(conn, writing.placement)
            await conn.execute(
                recording_chunks.insert().values(
                    application_id=writing.placement.application_id,
                    file=path.name,
                    seq=writing.seq,
                    side=writing.side,
                    segment=writing.index,
                    sha256=digest,
                    offset=writing.offset,
                    size=len(data),
                    node_id=writing.placement.node_id,
                    epoch=writing.placement.epoch,
                    uploaded_at=datetime.now(UTC),
                )
            )
        writing.offset += len(data)
        writing.seq += 1

    async def recover(self, lost: Placement, noticed_at: datetime) -> int:
        """Join the pieces of the segments open on a lost node into recordings;
        how many segments were recovered."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(recording_chunks)
                    .where(
                        recording_chunks.c.application_id == lost.application_id,
                        recording_chunks.c.node_id == lost.node_id,
                        recording_chunks.c.epoch == lost.epoch,
                    )
                    .order_by(recording_chunks.c.file, recording_chunks.c.seq)
                )
            ).all()
        files: dict[str, list[_Piece]] = {}
        for row in rows:
            files.setdefault(row.file, []).append(
                _Piece(row.side, row.segment, row.sha256, row.offset, row.uploaded_at)
            )
        recovered = 0
        for name, pieces in files.items():
            digest = await self._recover_one(lost, name, pieces, noticed_at)
            recovered += digest is not None
            await self._forget(lost.application_id, name, keep=digest)
        return recovered

    async def _recover_one(
        self, lost: Placement, name: str, pieces: list[_Piece], noticed_at: datetime
    ) -> str | None:
        data = bytearray()
        kept = []
        for piece in pieces:
            if piece.offset != len(data):
                break  # a gap: what follows cannot be placed
            data += await self.blobs.get(piece.sha256)
            kept.append(piece)
        if not data:
            return None
        first, last = kept[0], kept[-1]
        started = _started_at(name) or first.uploaded_at
        until = last.uploaded_at
        digest = await self.blobs.put(bytes(data))
        async with self.engine.begin() as conn:
            await audit.append(
                conn,
                audit.SYSTEM,
                CallAction.SEGMENT_RECOVERED,
                application_id=lost.application_id,
                details={
                    "side": first.side,
                    "segment": first.segment,
                    "file": name,
                    "sha256": digest,
                    "size": len(data),
                    "started_at": started.isoformat(timespec="milliseconds"),
                    "duration_seconds": f"{max(0.0, (until - started).total_seconds()):.2f}",
                    "node": lost.node_id,
                    "pieces": len(kept),
                    "kept_until": until.isoformat(timespec="milliseconds"),
                    # The node died somewhere between its last piece and now.
                    "lost_seconds_at_most": f"{(noticed_at - until).total_seconds():.1f}",
                },
            )
        return digest

    async def _forget(self, application_id: str, name: str, keep: str | None) -> None:
        """Drop the pieces of a segment; `keep` is the blob now holding the whole
        recording, which a single piece may equal (the same bytes, the same name)."""
        async with self.engine.begin() as conn:
            digests = (
                (
                    await conn.execute(
                        select(recording_chunks.c.sha256).where(
                            recording_chunks.c.application_id == application_id,
                            recording_chunks.c.file == name,
                        )
                    )
                )
                .scalars()
                .all()
            )
            await conn.execute(
                delete(recording_chunks).where(
                    recording_chunks.c.application_id == application_id,
                    recording_chunks.c.file == name,
                )
            )
        for digest in set(digests) - {keep}:
            with contextlib.suppress(StoreError):
                await self.blobs.delete(digest)


def _read(path: Path, start: int, end: int) -> bytes:
    with path.open("rb") as source:
        source.seek(start)
        return source.read(end - start)


def _started_at(name: str) -> datetime | None:
    found = _STARTED.search(name)
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
