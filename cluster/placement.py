"""Where each call lives: one node, under an epoch, recorded in the database.

Placing a call (the manager accepts) picks the live node with the fewest calls
and starts a new epoch. A call whose node is no longer alive moves to a live one
under the next epoch, whoever notices first (a page reconnecting, the sweeper):
the move is a compare-and-set on the epoch, so two nodes noticing at once move
it once, and its audit entry is written in the same transaction. A node acts for
a call only while the row names it with its epoch (`holds`, checked in the
transaction of each write), so a node that comes back after losing a call
cannot keep writing for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from cluster.errors import NoNodeAvailable, PlacementLost
from cluster.nodes import Nodes
from media.actions import CallAction
from store.schema import call_placements


@dataclass(frozen=True, slots=True)
class Placement:
    application_id: str
    node_id: str
    epoch: int
    placed_at: datetime


def _placement(row: object) -> Placement:
    return Placement(
        row.application_id,  # type: ignore[attr-defined]
        row.node_id,  # type: ignore[attr-defined]
        row.epoch,  # type: ignore[attr-defined]
        row.placed_at,  # type: ignore[attr-defined]
    )


class Placements:
    def __init__(self, engine: AsyncEngine, nodes: Nodes) -> None:
        self.engine = engine
        self.nodes = nodes

    async def current(self, application_id: str) -> Placement | None:
        """The call's placement if a call is running, wherever it is."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(call_placements).where(
                        call_placements.c.application_id == application_id,
                        call_placements.c.ended_at.is_(None),
                    )
                )
            ).first()
        return _placement(row) if row is not None else None

    async def running_ids(self) -> set[str]:
        """The applications with a call running now."""
        async with self.engine.connect() as conn:
            return set(
                (
                    await conn.execute(
                        select(call_placements.c.application_id).where(
                            call_placements.c.ended_at.is_(None)
                        )
                    )
                ).scalars()
            )

    async def start(self, application_id: str) -> Placement:
        """A new call on the node that should take it; the running one if another
        request placed it first."""
        node_id = await self.nodes.pick()
        try:
            placed = await self._start(application_id, node_id)
        except IntegrityError:
            placed = None  # another request inserted it first
        if placed is None:
            placed = await self.current(application_id)
        if placed is None:
            raise NoNodeAvailable("the call could not be placed; try again")
        return placed

    async def _start(self, application_id: str, node_id: str) -> Placement | None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(call_placements.c.epoch, call_placements.c.ended_at)
                    .where(call_placements.c.application_id == application_id)
                    .with_for_update()
                )
            ).first()
            if row is not None and row.ended_at is None:
                return None
            epoch = 1 if row is None else row.epoch + 1
            values = {"node_id": node_id, "epoch": epoch, "placed_at": now, "ended_at": None}
            if row is None:
                await conn.execute(
                    call_placements.insert().values(application_id=application_id, **values)
                )
            else:
                await conn.execute(
                    update(call_placements)
                    .where(call_placements.c.application_id == application_id)
                    .values(**values)
                )
            await audit.append(
                conn,
                audit.SYSTEM,
                CallAction.STARTED,
                application_id=application_id,
                details={"node": node_id, "epoch": epoch},
            )
        return Placement(application_id, node_id, epoch, now)

    async def move(
        self, placement: Placement, why: CallAction, to_node: str | None = None
    ) -> Placement | None:
        """Move the call to `to_node` (or the node that should take it) under the
        next epoch; None if it moved or ended meanwhile (someone else acted)."""
        target = to_node or await self.nodes.pick()
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            moved = await conn.execute(
                update(call_placements)
                .where(
                    call_placements.c.application_id == placement.application_id,
                    call_placements.c.epoch == placement.epoch,
                    call_placements.c.ended_at.is_(None),
                )
                .values(node_id=target, epoch=placement.epoch + 1, placed_at=now)
            )
            if moved.rowcount == 1:
                await audit.append(
                    conn,
                    audit.SYSTEM,
                    why,
                    application_id=placement.application_id,
                    details={
                        "from_node": placement.node_id,
                        "to_node": target,
                        "epoch": placement.epoch + 1,
                    },
                )
                return Placement(placement.application_id, target, placement.epoch + 1, now)
        return None

    async def end(self, conn: AsyncConnection, placement: Placement) -> None:
        """Within the caller's transaction: the call under this epoch is over."""
        await self.hold(conn, placement)
        await conn.execute(
            update(call_placements)
            .where(call_placements.c.application_id == placement.application_id)
            .values(ended_at=datetime.now(UTC))
        )

    async def hold(self, conn: AsyncConnection, placement: Placement) -> None:
        """Within the caller's transaction: PlacementLost unless the call is still
        this node's under this epoch (the row stays locked until it commits)."""
        row = (
            await conn.execute(
                select(call_placements.c.node_id, call_placements.c.epoch)
                .where(
                    call_placements.c.application_id == placement.application_id,
                    call_placements.c.ended_at.is_(None),
                )
                .with_for_update()
            )
        ).first()
        if row is None or (row.node_id, row.epoch) != (placement.node_id, placement.epoch):
            raise PlacementLost("this call has moved to another node")

    async def orphaned(self) -> list[Placement]:
        """Running calls whose node is not alive."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(call_placements).where(call_placements.c.ended_at.is_(None))
                )
            ).all()
        alive = {node.id for node in await self.nodes.alive()}
        return [_placement(row) for row in rows if row.node_id not in alive]

    async def on_node(self, node_id: str) -> list[Placement]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(call_placements).where(
                        call_placements.c.node_id == node_id, call_placements.c.ended_at.is_(None)
                    )
                )
            ).all()
        return [_placement(row) for row in rows]
