"""Messages between nodes over Redis pub/sub.

Each node listens on its own channel (`to_node`) and on the channels of what it
is waiting for now: the signalling links it relays, the replies to its requests,
the calls whose moves it must hear of. Delivery is at most once and in order
per channel: what rides on it (signalling, "the call moved", a request with a
reply) is retried by its sender or re-established by the pages, never assumed.
When Redis goes away the listener reconnects and subscribes again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from cluster.errors import CoordinationUnavailable, HostUnreachable

log = logging.getLogger(__name__)

Message = dict[str, Any]
# Called on the listener's task with each message to this node: it must not block.
NodeHandler = Callable[[Message], None]


def to_node(node_id: str) -> str:
    return f"signroom:to-node:{node_id}"


def link_channel(link_id: str) -> str:
    return f"signroom:link:{link_id}"


def call_channel(application_id: str) -> str:
    return f"signroom:call:{application_id}"


class Inbox:
    """Messages published to one channel, while it is open."""

    def __init__(self, bus: Bus, channel: str) -> None:
        self.channel = channel
        self._bus = bus
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=1000)

    def deliver(self, message: Message) -> None:
        if self._queue.full():
            log.warning("inbox %s is full; a message is dropped", self.channel)
            return
        self._queue.put_nowait(message)

    async def get(self) -> Message:
        return await self._queue.get()

    async def close(self) -> None:
        await self._bus.close_inbox(self)


class Bus:
    def __init__(self, redis: Redis, node_id: str) -> None:
        self.node_id = node_id
        self._redis = redis
        # Several inboxes may listen on one channel (every line of a call hears
        # that it moved); the channel is subscribed while any of them is open.
        self._inboxes: dict[str, list[Inbox]] = {}
        self._handler: NodeHandler | None = None
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = False

    async def start(self, handler: NodeHandler) -> None:
        self._handler = handler
        self._listener = asyncio.create_task(self._listen(), name="bus listener")

    async def stop(self) -> None:
        self._stopping = True
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def publish(self, channel: str, message: Message) -> int:
        """Send; the number of listeners that got it (0: nobody listens there)."""
        try:
            return int(await self._redis.publish(channel, json.dumps(message)))
        except (RedisError, OSError) as exc:
            raise CoordinationUnavailable(
                f"the cluster's Redis cannot be reached ({type(exc).__name__})"
            ) from None

    async def open_inbox(self, channel: str) -> Inbox:
        inbox = Inbox(self, channel)
        listening = self._inboxes.setdefault(channel, [])
        listening.append(inbox)
        if len(listening) == 1 and self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(channel)
        return inbox

    async def close_inbox(self, inbox: Inbox) -> None:
        listening = self._inboxes.get(inbox.channel, [])
        if inbox in listening:
            listening.remove(inbox)
        if not listening and inbox.channel in self._inboxes:
            del self._inboxes[inbox.channel]
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(inbox.channel)

    async def request(self, node_id: str, message: Message, wait: float = 10.0) -> Message:
        """Send `message` to `node_id` and wait for its reply."""
        reply_to = f"signroom:reply:{uuid.uuid4().hex}"
        inbox = await self.open_inbox(reply_to)
        try:
            if not await self.publish(to_node(node_id), {**message, "reply_to": reply_to}):
                raise HostUnreachable("the node hosting the call is not listening")
            try:
                async with asyncio.timeout(wait):
                    return await inbox.get()
            except TimeoutError:
                raise HostUnreachable("the node hosting the call did not answer") from None
        finally:
            await inbox.close()

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                self._pubsub = self._redis.pubsub()
                await self._pubsub.subscribe(to_node(self.node_id), *self._inboxes)
                if not self.connected:
                    log.info("message bus connected")
                self.connected = True
                while True:
                    raw = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=1.0
                    )
                    if raw is not None:
                        self._dispatch(raw)
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning("message bus lost Redis (%s); reconnecting", type(exc).__name__)
                self.connected = False
                if self._pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(0.5)

    def _dispatch(self, raw: dict[str, Any]) -> None:
        channel = raw.get("channel")
        try:
            message = json.loads(raw["data"])
        except (TypeError, ValueError, KeyError):
            log.warning("a malformed bus message on %s is dropped", channel)
            return
        if not isinstance(message, dict):
            return
        if channel == to_node(self.node_id):
            if self._handler is not None:
                self._handler(message)
            return
        for inbox in self._inboxes.get(str(channel), []):
            inbox.deliver(message)
