"""Which nodes are alive, and which should take a new call.

A node is alive while its key in Redis is: it sets `signroom:node:<id>` with a
time to live of `node_ttl` every `heartbeat`, carrying its address, how many
calls it hosts and whether it is draining. A node that stops (killed, cut off)
is gone when its key runs out. On one node with no Redis, `SingleNode` answers
the same questions about itself.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from cluster.errors import CoordinationUnavailable, NoNodeAvailable
from cluster.settings import ClusterSettings
from store.background import BackgroundRounds

log = logging.getLogger(__name__)

NODE_KEY = "signroom:node:"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    id: str
    address: str
    calls: int
    draining: bool
    started_at: float


class Nodes(Protocol):
    node_id: str
    draining: bool

    async def alive(self) -> list[NodeInfo]: ...

    async def is_alive(self, node_id: str) -> bool: ...

    async def pick(self) -> str:
        """The live node that should host a new call (fewest calls, not draining)."""
        ...

    def status(self) -> dict[str, Any]:
        """For /readyz: whether this node's part in the cluster works."""
        ...

    @property
    def settled(self) -> bool:
        """Whether another node's missing key means it is dead: not while this node
        itself has been cut off from Redis lately (every other node was too, and
        has not heartbeaten again yet)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SingleNode:
    """One node on its own: always alive, always the one to pick."""

    def __init__(self, settings: ClusterSettings, calls: Callable[[], int]) -> None:
        self.node_id = settings.node_id
        self._address = settings.node_address
        self._calls = calls
        self._started = time.time()
        self.draining = False

    async def alive(self) -> list[NodeInfo]:
        return [NodeInfo(self.node_id, self._address, self._calls(), self.draining, self._started)]

    async def is_alive(self, node_id: str) -> bool:
        return node_id == self.node_id

    async def pick(self) -> str:
        if self.draining:
            raise NoNodeAvailable("this node is shutting down and takes no new calls")
        return self.node_id

    def status(self) -> dict[str, Any]:
        return {"ok": True, "mode": "single node", "node": self.node_id}

    @property
    def settled(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisNodes:
    def __init__(self, redis: Redis, settings: ClusterSettings, calls: Callable[[], int]) -> None:
        self.node_id = settings.node_id
        self.draining = False
        self._redis = redis
        self._settings = settings
        self._calls = calls
        self._started = time.time()
        self._last_beat = 0.0
        self._healthy_since: float | None = None
        self._problem = "not started"
        self._rounds = BackgroundRounds(
            "node heartbeat", self._beat, settings.heartbeat.total_seconds(), first_at_once=True
        )

    @property
    def healthy(self) -> bool:
        """Our key is in Redis: the last heartbeat went through within the TTL."""
        return time.monotonic() - self._last_beat < self._settings.node_ttl.total_seconds()

    @property
    def settled(self) -> bool:
        if not self.healthy or self._healthy_since is None:
            return False
        return time.monotonic() - self._healthy_since >= self._settings.node_ttl.total_seconds()

    async def start(self) -> None:
        await self._beat()
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
        try:
            await self._redis.delete(NODE_KEY + self.node_id)
        except RedisError:
            log.warning("could not remove this node's key; it runs out by itself")

    async def _beat(self) -> None:
        info = NodeInfo(
            self.node_id, self._settings.node_address, self._calls(), self.draining, self._started
        )
        try:
            await self._redis.set(
                NODE_KEY + self.node_id,
                json.dumps(asdict(info)),
                px=int(self._settings.node_ttl.total_seconds() * 1000),
            )
        except (RedisError, OSError) as exc:
            problem = f"Redis unreachable ({type(exc).__name__})"
            if problem != self._problem:
                log.warning("node heartbeat failed: %s", problem)
            self._problem = problem
            self._healthy_since = None
            return
        if self._problem:
            log.info("node %s heartbeating in Redis", self.node_id)
        self._problem = ""
        now = time.monotonic()
        if self._healthy_since is None or not self.healthy:
            self._healthy_since = now  # back after a gap: others are coming back too
        self._last_beat = now

    async def alive(self) -> list[NodeInfo]:
        try:
            keys = [key async for key in self._redis.scan_iter(match=NODE_KEY + "*", count=100)]
            values = await self._redis.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            raise CoordinationUnavailable(
                f"the cluster's Redis cannot be reached ({type(exc).__name__})"
            ) from None
        return [NodeInfo(**json.loads(value)) for value in values if value]

    async def is_alive(self, node_id: str) -> bool:
        try:
            return bool(await self._redis.exists(NODE_KEY + node_id))
        except (RedisError, OSError) as exc:
            raise CoordinationUnavailable(
                f"the cluster's Redis cannot be reached ({type(exc).__name__})"
            ) from None

    async def pick(self) -> str:
        candidates = [node for node in await self.alive() if not node.draining]
        if not candidates:
            raise NoNodeAvailable("no node takes new calls now; try again shortly")
        return min(candidates, key=lambda node: (node.calls, node.id)).id

    def status(self) -> dict[str, Any]:
        return {
            "ok": self.healthy,
            "mode": "cluster",
            "node": self.node_id,
            "draining": self.draining,
            **({"problem": self._problem} if self._problem else {}),
        }
