"""The calls this node hosts, and what each reports: audit entries written only
while the call is still this node's (its placement's epoch), recordings kept in
the blob store, the case's state when the call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from cluster.errors import PlacementLost
from cluster.placement import Placement, Placements
from interview.recording_spool import RecordingSpool
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.errors import LoanError
from loans.states import Action, State
from media.call import Call, CallSettings, Side
from media.errors import RecordingNotStored
from media.recording import SegmentInfo
from store.blobs import BlobStore
from store.errors import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallServices:
    engine: AsyncEngine
    blobs: BlobStore
    placements: Placements
    spool: RecordingSpool
    settings: CallSettings


class AuditedCallEvents:
    """CallEvents for one call under one placement. Each event is an audit entry by
    the system, written only while the placement still stands; once the call has
    moved to another node, this node stops acting for it. The end of a call that
    did not reach signing returns the case to identity_verified so another call
    can be held."""

    def __init__(self, services: CallServices, placement: Placement, hosted: HostedCalls) -> None:
        self.services = services
        self.placement = placement
        self.hosted = hosted
        self.lost = False

    @property
    def application_id(self) -> str:
        return self.placement.application_id

    async def record(self, action: str, details: Mapping[str, object]) -> None:
        if self.lost:
            return
        try:
            async with self.services.engine.begin() as conn:
                await self.services.placements.hold(conn, self.placement)
                await audit.append(
                    conn,
                    SYSTEM_PRINCIPAL.actor,
                    action,
                    application_id=self.application_id,
                    details=details,
                )
        except PlacementLost:
            self._moved_away()

    async def ended(self, reason: str) -> None:
        self.hosted.forget(self.application_id, self.placement)
        if self.lost:
            return
        engine = self.services.engine
        try:
            async with engine.begin() as conn:
                await self.services.placements.end(conn, self.placement)
        except PlacementLost:
            return
        app = await apps.get_application(engine, SYSTEM_PRINCIPAL, self.application_id)
        if app.state is State.IN_INTERVIEW:
            # A concurrent change (cancelled meanwhile) leaves nothing to undo.
            with contextlib.suppress(LoanError):
                await apps.act(
                    engine,
                    SYSTEM_PRINCIPAL,
                    self.application_id,
                    Action.INTERRUPT_INTERVIEW,
                    comment=f"call ended: {reason}",
                )

    async def segment_started(self, side: Side, index: int, file: Callable[[], Path]) -> None:
        if not self.lost:
            self.services.spool.start(self.placement, side.value, index, file)

    async def segment_closed(
        self, side: Side, index: int, path: Path, segment: SegmentInfo | None
    ) -> None:
        stored = None
        if segment is not None:
            try:
                stored = await self.services.blobs.put_file(path)
            except (StoreError, OSError) as exc:
                raise RecordingNotStored(
                    f"the recording could not be stored ({type(exc).__name__})"
                ) from None
            if stored != segment.sha256:
                raise RecordingNotStored("the stored recording is not the one written")
        await self.services.spool.finish(self.placement, side.value, index, path.name, stored)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    def _moved_away(self) -> None:
        """Another node holds the call now (this one was thought dead): let go of
        the media here without touching the case, which is that node's now."""
        if self.lost:
            return
        self.lost = True
        log.warning("call %s has moved to another node; ending it here", self.application_id)
        call = self.hosted.get(self.application_id)
        if call is not None:
            self.hosted.spawn(call.end("moved_elsewhere"))


class HostedCalls:
    def __init__(self, services: CallServices) -> None:
        self.services = services
        self.calls: dict[str, Call] = {}
        self._placements: dict[str, Placement] = {}
        self._events: dict[str, AuditedCallEvents] = {}
        self._empty = asyncio.Event()
        self._empty.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()

    def __len__(self) -> int:
        return sum(1 for call in self.calls.values() if not call.ended)

    def host(self, placement: Placement) -> Call:
        """The call under `placement`, started here if it is not running yet."""
        call = self.calls.get(placement.application_id)
        if call is not None and not call.ended:
            if self._placements[placement.application_id] == placement:
                return call
            # An older epoch of this call still here (it moved away and back).
            self.spawn(call.end("moved_elsewhere"))
        events = AuditedCallEvents(self.services, placement, self)
        call = Call(placement.application_id, self.services.settings, events)
        self.calls[placement.application_id] = call
        self._placements[placement.application_id] = placement
        self._events[placement.application_id] = events
        self._empty.clear()
        return call

    def adopt(self, placement: Placement) -> Call:
        """A call moved here from a lost node: its participants have a grace period
        to come back to it, as after any drop."""
        call = self.host(placement)
        self.spawn(self._end_unless_joined(call))
        return call

    def get(self, application_id: str) -> Call | None:
        call = self.calls.get(application_id)
        return None if call is None or call.ended else call

    def placement_of(self, application_id: str) -> Placement | None:
        return self._placements.get(application_id) if self.get(application_id) else None

    def forget(self, application_id: str, placement: Placement | None = None) -> None:
        if placement is None or self._placements.get(application_id) == placement:
            self.calls.pop(application_id, None)
            self._placements.pop(application_id, None)
            self._events.pop(application_id, None)
        if not self.calls:
            self._empty.set()

    async def hand_over(self, application_id: str) -> None:
        """The call moved to another node on purpose (a drain): its media here
        goes, and nothing more is written for it from here."""
        events = self._events.get(application_id)
        call = self.get(application_id)
        if events is not None:
            events.lost = True
        if call is not None:
            await call.end("moved_elsewhere")

    async def wait_until_empty(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._empty.wait()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the calls; `close` waits for it (never cancels it:
        it writes to the database)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end_unless_joined(self, call: Call) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.services.settings.grace.total_seconds()):
                await self._closing.wait()
        if self._closing.is_set():
            return
        if not call.ended and not any(p.connection for p in call.participants.values()):
            await call.end("nobody_returned")

    async def close(self) -> None:
        self._closing.set()
        for call in list(self.calls.values()):
            await call.end("server_shutdown")
        await asyncio.gather(*self._tasks, return_exceptions=True)
