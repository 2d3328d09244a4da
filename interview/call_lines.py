"""A participant's signalling line to their call, wherever the call runs.

The page's WebSocket reaches whichever node the load balancer picked. When the
call runs there, the line is the call itself (`LocalLine`). When it runs on
another node, the line relays over the message bus (`RelayedLine`): each message
from the page is checked here and published to the hosting node, where a
`LineEndpoint` feeds it to the call, in order, and publishes the call's answers
back to this line. If the call moves (its node died), the line joins it again on
its new node and asks the page to connect afresh; if the relaying node dies, the
hosting node notices and counts that participant as dropped, as after any lost
socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cluster.bus import Bus, Inbox, Message, call_channel, link_channel, to_node
from cluster.errors import ClusterError
from cluster.nodes import Nodes
from cluster.placement import Placement
from media.call import Call, Notify, Side
from media.errors import CallEnded, SignallingError
from media.signalling import parse

log = logging.getLogger(__name__)


class CallLine(Protocol):
    async def join(self) -> None:
        """Join the call; SignallingError (CallEnded) if it cannot be joined."""
        ...

    async def handle(self, raw: str) -> None:
        """One message from the page; SignallingError if it is malformed or refused."""
        ...

    async def close(self) -> None:
        """The page's socket went away."""
        ...


class LocalLine:
    def __init__(self, call: Call, side: Side, user: str, notify: Notify) -> None:
        self.call = call
        self.side = side
        self.user = user
        self.notify = notify

    async def join(self) -> None:
        await self.call.join(self.side, self.user, self.notify)

    async def handle(self, raw: str) -> None:
        await self.call.handle(self.side, parse(raw))

    async def close(self) -> None:
        self.call.socket_closed(self.side, self.notify)


class RelayedLine:
    def __init__(
        self, bus: Bus, placement: Placement, side: Side, user: str, notify: Notify
    ) -> None:
        self.bus = bus
        self.placement = placement
        self.side = side
        self.user = user
        self.notify = notify
        self.link_id = uuid.uuid4().hex
        self._inboxes: list[Inbox] = []
        self._pumps: list[asyncio.Task[None]] = []

    async def join(self) -> None:
        answers = await self.bus.open_inbox(link_channel(self.link_id))
        moves = await self.bus.open_inbox(call_channel(self.placement.application_id))
        self._inboxes = [answers, moves]
        self._pumps = [
            asyncio.create_task(self._pump(answers, self._answer)),
            asyncio.create_task(self._pump(moves, self._moved)),
        ]
        await self._to_host("join", user=self.user)

    async def handle(self, raw: str) -> None:
        parse(raw)  # refused here, as on the hosting node, before it travels
        await self._to_host("signal", raw=raw)

    async def close(self) -> None:
        with contextlib.suppress(ClusterError):
            await self._to_host("closed")
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        for inbox in self._inboxes:
            await inbox.close()

    async def _to_host(self, op: str, **fields: Any) -> None:
        await self.bus.publish(
            to_node(self.placement.node_id),
            {
                "op": op,
                "call": self.placement.application_id,
                "epoch": self.placement.epoch,
                "side": self.side.value,
                "link": self.link_id,
                "relay": self.bus.node_id,
                **fields,
            },
        )

    async def _pump(self, inbox: Inbox, act: Callable[[Message], Awaitable[None]]) -> None:
        while True:
            message = await inbox.get()
            try:
                await act(message)
            except (ConnectionError, RuntimeError):
                log.info("could not reach the %s's page", self.side.value)

    async def _answer(self, message: Message) -> None:
        answer = message.get("message")
        if message.get("op") == "send" and isinstance(answer, dict):
            await self.notify(answer)
        elif message.get("op") == "rejoin":
            # The hosting node was restarted and lost this line: join it afresh.
            await self._to_host("join", user=self.user)
            await self.notify({"type": "reconnect", "reason": "node_restarted"})

    async def _moved(self, message: Message) -> None:
        if message.get("op") != "moved" or int(message.get("epoch", 0)) <= self.placement.epoch:
            return
        self.placement = Placement(
            self.placement.application_id,
            str(message["node"]),
            int(message["epoch"]),
            self.placement.placed_at,
        )
        await self._to_host("join", user=self.user)
        # The media ran on the lost node: the page connects afresh to the new one.
        await self.notify({"type": "reconnect", "reason": "node_lost"})


@dataclass(eq=False)
class _Link:
    """A page's socket on another node, as the hosting node sees it."""

    id: str
    relay: str
    side: Side
    notify: Notify
    lane: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    call: Call | None = None


# Finds (or starts, for a call placed here) the call a relayed message is for;
# None when the call does not run here under that epoch.
HostCall = Callable[[str, int], Awaitable[Call | None]]


class LineEndpoint:
    """On the hosting node: the relayed lines of its calls' participants."""

    def __init__(self, bus: Bus, nodes: Nodes, host_call: HostCall) -> None:
        self.bus = bus
        self.nodes = nodes
        self.host_call = host_call
        self._links: dict[str, _Link] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _ask_to_rejoin(self, link_id: str) -> None:
        with contextlib.suppress(ClusterError):
            await self.bus.publish(link_channel(link_id), {"op": "rejoin"})

    def deliver(self, message: Message) -> None:
        """From the bus listener: queue the message on its link's lane."""
        link_id = str(message.get("link", ""))
        link = self._links.get(link_id)
        if link is None:
            if message.get("op") != "join":
                # A link this process never saw (it was restarted under the same
                # node id): the relaying node joins again.
                if message.get("op") == "signal":
                    self._tasks.add(task := asyncio.create_task(self._ask_to_rejoin(link_id)))
                    task.add_done_callback(self._tasks.discard)
                return
            try:
                side = Side(str(message.get("side")))
            except ValueError:
                return
            link = _Link(link_id, str(message.get("relay", "")), side, self._notifier(link_id))
            link.task = asyncio.create_task(self._serve(link))
            self._links[link_id] = link
        link.lane.put_nowait(message)

    def _notifier(self, link_id: str) -> Notify:
        async def notify(message: Mapping[str, object]) -> None:
            with contextlib.suppress(ClusterError):
                await self.bus.publish(link_channel(link_id), {"op": "send", "message": message})

        return notify

    async def _serve(self, link: _Link) -> None:
        try:
            while True:
                message = await link.lane.get()
                op = message.get("op")
                if op == "closed":
                    return
                try:
                    if op == "join":
                        await self._join(link, message)
                    elif op == "signal" and link.call is not None:
                        await link.call.handle(link.side, parse(str(message.get("raw", ""))))
                except SignallingError as exc:
                    await link.notify(exc.as_message())
        finally:
            if link.call is not None:
                link.call.socket_closed(link.side, link.notify)
            self._links.pop(link.id, None)

    async def _join(self, link: _Link, message: Message) -> None:
        call = await self.host_call(str(message.get("call", "")), int(message.get("epoch", 0)))
        if call is None:
            raise CallEnded("this call is not running here any more; connect again")
        link.call = call
        await call.join(link.side, str(message.get("user", "")), link.notify)

    async def drop_links_of_dead_relays(self) -> None:
        """A relaying node that died took its pages' sockets with it."""
        for link in list(self._links.values()):
            with contextlib.suppress(ClusterError):
                if not await self.nodes.is_alive(link.relay):
                    link.lane.put_nowait({"op": "closed"})

    async def close(self) -> None:
        for link in list(self._links.values()):
            link.lane.put_nowait({"op": "closed"})
        await asyncio.gather(
            *(link.task for link in self._links.values() if link.task is not None),
            return_exceptions=True,
        )
