"""The video calls of every node, as one node sees them: accepting a call puts
it on a node, a participant's signalling reaches it from any node, a call whose
node died moves to a live one, and a node being drained hands its calls over.

On one node (no Redis) the same code runs with that node as the only one: a call
left behind by a previous run of the process (its node id gone) moves to this
one and its participants may come back to it within the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from cluster.bus import Bus, Message, call_channel, to_node
from cluster.errors import ClusterError, HostUnreachable, NoNodeAvailable
from cluster.nodes import Nodes
from cluster.placement import Placement, Placements
from interview.call_lines import CallLine, LineEndpoint, LocalLine, RelayedLine
from interview.hosted_calls import CallServices, HostedCalls
from interview.queue import WaitingQueue
from interview.recording_spool import RecordingSpool
from kyc.records import LivenessAttempt, get_liveness, latest_readings
from kyc.workers import DocumentKind
from live_identity.call_check import CallChecks
from live_identity.errors import CheckRunning, NoCall
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from media.actions import CallAction
from media.call import Call, CallSettings, Notify, Side
from store.background import BackgroundRounds
from store.blobs import BlobStore

log = logging.getLogger(__name__)

# Closes a page's socket whose call moved to another node: the page reconnects,
# and the load balancer sends it to a node that is not being drained.
OnMoved = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    sha256: str
    width: int
    height: int

    def as_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "width": self.width, "height": self.height}


class Calls:
    def __init__(
        self,
        engine: AsyncEngine,
        blobs: BlobStore,
        settings: CallSettings,
        nodes: Nodes,
        bus: Bus | None = None,
        *,
        drain: timedelta = timedelta(minutes=10),
        piece_seconds: float | None = None,
        on_drained: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.nodes = nodes
        self.bus = bus
        self.drain_period = drain
        # What a node does once `signroom node drain` has moved its calls: stop.
        self.on_drained = on_drained
        self.queue = WaitingQueue(engine)
        self.placements = Placements(engine, nodes)
        spool_options = {} if piece_seconds is None else {"piece_seconds": piece_seconds}
        self.spool = RecordingSpool(engine, blobs, self.placements, **spool_options)
        self.hosted = HostedCalls(
            CallServices(engine, blobs, self.placements, self.spool, settings)
        )
        self.endpoint = LineEndpoint(bus, nodes, self._host_call) if bus is not None else None
        self._local_lines: dict[str, dict[LocalLine, OnMoved]] = {}
        # On every node, with no lease: a move is a compare-and-set on the epoch, so
        # two nodes noticing the same loss move the call once, and no lease held by
        # the dead node has to run out first.
        self._sweeper = BackgroundRounds("calls of lost nodes", self._sweep, 1.0)
        # The identity checks on calls hosted here (set once they are ready).
        self.live_checks: CallChecks | None = None

    @property
    def node_id(self) -> str:
        return self.nodes.node_id

    async def start(self) -> None:
        await self.nodes.start()
        if self.bus is not None:
            await self.bus.start(self._on_message)
        self._sweeper.start()

    async def close(self) -> None:
        """Stop: running calls end here (one node), or wait to end and then move
        to another node (several; `drain`)."""
        await self._sweeper.stop()
        if self.bus is not None and len(self.hosted):
            await self.drain()
        await self.hosted.close()
        await self.spool.close()
        if self.endpoint is not None:
            await self.endpoint.close()
        if self.bus is not None:
            await self.bus.stop()
        await self.nodes.stop()

    # Looking calls up ---------------------------------------------------------

    def get(self, application_id: str) -> Call | None:
        """The call, if this node hosts it."""
        return self.hosted.get(application_id)

    async def running(self, application_id: str) -> Placement | None:
        """Where the call runs now; moved first to a live node if its own died."""
        found = await self.placements.current(application_id)
        if found is None or not self.nodes.settled or await self.nodes.is_alive(found.node_id):
            return found
        await self._move(found, CallAction.NODE_LOST)
        return await self.placements.current(application_id)

    # The call's life ---------------------------------------------------------

    async def accept(self, application_id: str) -> Placement:
        """The manager accepts: the call starts on the node that should take it
        (or goes on where it runs)."""
        placement = await self.running(application_id)
        if placement is None:
            placement = await self.placements.start(application_id)
        await self.queue.leave(application_id)
        await self._host(placement)
        return placement

    async def line(
        self,
        placement: Placement,
        side: Side,
        user: str,
        notify: Notify,
        on_moved: OnMoved,
    ) -> CallLine:
        if placement.node_id == self.node_id:
            line = LocalLine(self.hosted.host(placement), side, user, notify)
            self._local_lines.setdefault(placement.application_id, {})[line] = on_moved
            return line
        if self.bus is None:
            raise HostUnreachable("the call runs on another node and this one has no bus")
        return RelayedLine(self.bus, placement, side, user, notify)

    def line_closed(self, application_id: str, line: CallLine) -> None:
        lines = self._local_lines.get(application_id)
        if lines is not None and isinstance(line, LocalLine):
            lines.pop(line, None)
            if not lines:
                del self._local_lines[application_id]

    async def end(self, application_id: str, reason: str) -> None:
        placement = await self.running(application_id)
        if placement is None:
            return
        await self._on_host(placement, "end", reason=reason)

    async def snapshot(self, application_id: str) -> Snapshot | None:
        """The applicant's picture as the hosting node receives it, kept as a blob;
        None when no picture has arrived yet."""
        placement = await self.running(application_id)
        if placement is None:
            return None
        reply = await self._on_host(placement, "snapshot")
        return Snapshot(**reply["snapshot"]) if reply.get("snapshot") else None

    async def live_check(
        self,
        attempt: LivenessAttempt,
        id_front_sha256: str,
        requested_by: audit.Actor,
        request_id: str | None = None,
    ) -> None:
        """A liveness and face check on the call's video, on the node hosting it
        (live_identity.call_check); its prompts and outcome reach the pages over
        the call."""
        await self._start_check(
            attempt.application_id,
            "live_check",
            requested_by,
            request_id,
            attempt=attempt.id,
            id_front=id_front_sha256,
        )

    async def document_check(
        self,
        application_id: str,
        kind: DocumentKind,
        requested_by: audit.Actor,
        request_id: str | None = None,
    ) -> None:
        """Ask the applicant to hold `kind` up to the camera and check it against
        the uploaded photo's reading (live_identity.document_check), on the node
        hosting the call."""
        await self._start_check(
            application_id, "document_check", requested_by, request_id, kind=kind.value
        )

    async def _start_check(
        self,
        application_id: str,
        op: str,
        requested_by: audit.Actor,
        request_id: str | None,
        **fields: Any,
    ) -> None:
        placement = await self.running(application_id)
        if placement is None:
            raise NoCall("there is no call for this application now")
        reply = await self._on_host(
            placement,
            op,
            actor_id=requested_by.id,
            actor_role=requested_by.role,
            request_id=request_id,
            **fields,
        )
        if reply.get("busy"):
            raise CheckRunning("a check is running on this call; wait for its outcome")
        if reply.get("no_call"):
            raise NoCall("there is no call for this application now")

    async def _on_host(self, placement: Placement, op: str, **fields: Any) -> Message:
        if placement.node_id == self.node_id:
            return await self._act(placement.application_id, op, fields)
        if self.bus is None:
            raise HostUnreachable("the call runs on another node and this one has no bus")
        reply = await self.bus.request(
            placement.node_id, {"op": op, "call": placement.application_id, **fields}
        )
        if "error" in reply:
            raise HostUnreachable(str(reply["error"]))
        return reply

    async def _act(self, application_id: str, op: str, fields: Message) -> Message:
        call = self.hosted.get(application_id)
        if op == "end":
            if call is not None:
                # Shielded: the manager closing the page must not leave it half ended.
                await asyncio.shield(call.end(str(fields.get("reason", "manager_ended"))))
            return {"ended": True}
        if op == "snapshot":
            shot = await self._snapshot_here(call) if call is not None else None
            return {"snapshot": shot.as_json() if shot else None}
        if op == "live_check":
            return await self._live_check_here(application_id, call, fields)
        if op == "document_check":
            return await self._document_check_here(application_id, call, fields)
        return {"error": f"unknown request {op}"}

    async def _live_check_here(
        self, application_id: str, call: Call | None, fields: Message
    ) -> Message:
        attempt = await get_liveness(self.engine, application_id, str(fields.get("attempt")))
        if call is None or call.ended or attempt is None or self.live_checks is None:
            return {"no_call": True}
        started = self.live_checks.start(
            call,
            attempt,
            str(fields.get("id_front")),
            requested_by=audit.Actor(str(fields.get("actor_id")), str(fields.get("actor_role"))),
            request_id=str(fields["request_id"]) if fields.get("request_id") else None,
        )
        return {"started": started, "busy": not started}

    async def _document_check_here(
        self, application_id: str, call: Call | None, fields: Message
    ) -> Message:
        kind = DocumentKind(str(fields.get("kind")))
        uploaded = (await latest_readings(self.engine, application_id)).get(kind.value)
        if call is None or call.ended or uploaded is None or self.live_checks is None:
            return {"no_call": True}
        application = await apps.get_application(self.engine, SYSTEM_PRINCIPAL, application_id)
        started = self.live_checks.start_document(
            call,
            kind,
            application,
            uploaded,
            requested_by=audit.Actor(str(fields.get("actor_id")), str(fields.get("actor_role"))),
            request_id=str(fields["request_id"]) if fields.get("request_id") else None,
        )
        return {"started": started, "busy": not started}

    async def _snapshot_here(self, call: Call) -> Snapshot | None:
        frame = call.tap.latest() if call.tap is not None else None
        if frame is None:
            return None
        # Reading the frame's pixels converts it: in the thread, with the encoding.
        ok, encoded = await asyncio.to_thread(
            lambda: cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        )
        if not ok:
            return None
        height, width = frame.image.shape[:2]
        return Snapshot(await self.blobs.put(encoded.tobytes()), width, height)

    # Hosting ------------------------------------------------------------------

    async def _host(self, placement: Placement) -> None:
        if placement.node_id == self.node_id:
            self.hosted.host(placement)
        elif self.bus is not None:
            with contextlib.suppress(ClusterError):
                await self.bus.publish(
                    to_node(placement.node_id),
                    {"op": "host", "call": placement.application_id, "epoch": placement.epoch},
                )

    async def _host_call(self, application_id: str, epoch: int) -> Call | None:
        """For a relayed line: the call, if it runs here under `epoch` or later."""
        placement = await self.placements.current(application_id)
        if placement is None or placement.node_id != self.node_id or placement.epoch < epoch:
            return None
        return self.hosted.host(placement)

    def _on_message(self, message: Message) -> None:
        op = message.get("op")
        if op in ("join", "signal", "closed"):
            if self.endpoint is not None:
                self.endpoint.deliver(message)
        elif op in ("host", "adopt"):
            self.hosted.spawn(self._host_placed(str(message.get("call", "")), op == "adopt"))
        elif op in ("end", "snapshot"):
            self.hosted.spawn(self._answer(message))
        elif op == "drain":
            self.hosted.spawn(self._drain_on_request())

    async def _host_placed(self, application_id: str, adopt: bool) -> None:
        placement = await self.placements.current(application_id)
        if placement is None or placement.node_id != self.node_id:
            return
        if adopt:
            self.hosted.adopt(placement)
        else:
            self.hosted.host(placement)

    async def _answer(self, message: Message) -> None:
        reply_to = message.get("reply_to")
        try:
            reply = await self._act(str(message.get("call", "")), str(message.get("op")), message)
        except Exception as exc:  # the asking node gets a reason, not a timeout
            log.exception("a request from another node failed")
            reply = {"error": type(exc).__name__}
        if self.bus is not None and isinstance(reply_to, str):
            with contextlib.suppress(ClusterError):
                await self.bus.publish(reply_to, reply)

    # Moving calls -----------------------------------------------------------

    async def _sweep(self) -> None:
        """Move the calls of nodes that stopped heartbeating; drop relayed lines
        whose node died."""
        if not self.nodes.settled:
            return
        for placement in await self.placements.orphaned():
            await self._move(placement, CallAction.NODE_LOST)
        if self.endpoint is not None:
            await self.endpoint.drop_links_of_dead_relays()

    async def _move(
        self, placement: Placement, why: CallAction, target: str | None = None
    ) -> Placement | None:
        noticed_at = datetime.now(UTC)
        moved = await self.placements.move(placement, why, target)
        if moved is None:
            return None  # moved or ended meanwhile, by whoever noticed first
        log.warning(
            "call %s moved from node %s to %s (%s)",
            placement.application_id,
            placement.node_id,
            moved.node_id,
            why.value,
        )
        if why is CallAction.NODE_LOST:
            await self.spool.recover(placement, noticed_at)
        if moved.node_id == self.node_id:
            self.hosted.adopt(moved)
        elif self.bus is not None:
            with contextlib.suppress(ClusterError):
                await self.bus.publish(
                    to_node(moved.node_id),
                    {"op": "adopt", "call": moved.application_id, "epoch": moved.epoch},
                )
        if self.bus is not None:
            with contextlib.suppress(ClusterError):
                await self.bus.publish(
                    call_channel(moved.application_id),
                    {"op": "moved", "node": moved.node_id, "epoch": moved.epoch},
                )
        return moved

    async def _drain_on_request(self) -> None:
        log.warning("draining on request: no new calls; running ones finish or move")
        await self.drain()
        if self.on_drained is not None:
            self.on_drained()

    async def drain(self) -> None:
        """Take no new calls; let the running ones end for the drain period, then
        move what is left to other nodes."""
        self.nodes.draining = True
        await self.hosted.wait_until_empty(self.drain_period.total_seconds())
        for application_id in list(self.hosted.calls):
            placement = self.hosted.placement_of(application_id)
            if placement is None:
                continue
            try:
                moved = await self._move(placement, CallAction.MOVED)
            except NoNodeAvailable:
                log.warning("no other node takes call %s; it ends here", application_id)
                continue
            if moved is None:
                continue
            for on_moved in list(self._local_lines.get(application_id, {}).values()):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await on_moved()
            await self.hosted.hand_over(application_id)
