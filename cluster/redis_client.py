"""The Redis connection every cluster part shares: short timeouts, so that a
Redis that is down makes a heartbeat or a publish fail in about a second instead
of hanging a health check or a request."""

from __future__ import annotations

from redis.asyncio import Redis

TIMEOUT_SECONDS = 1.5


def connect(url: str) -> Redis:
    client: Redis = Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        health_check_interval=5,
        decode_responses=True,
    )
    return client
