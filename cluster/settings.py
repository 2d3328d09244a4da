"""What a node needs to know to take part in a cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    node_id: str
    node_address: str
    # Empty: one node on its own (the embedded default).
    redis_url: str = field(default="", repr=False)
    heartbeat: timedelta = timedelta(seconds=1)
    node_ttl: timedelta = timedelta(seconds=5)
    drain: timedelta = timedelta(minutes=10)

    @property
    def clustered(self) -> bool:
        return bool(self.redis_url)
