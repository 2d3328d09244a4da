"""One participant's encoded track, delivered to everyone who needs it: the other
participant's sender, the recorder, the KYC frame tap.

Each subscriber has its own bounded queue. A subscriber that falls behind loses
packets up to the next key frame (video) rather than stalling the others: the
forwarding path never waits for a slow consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

SUBSCRIBER_QUEUE = 256


class Subscription:
    def __init__(self, kind: str, capacity: int) -> None:
        self.kind = kind
        self.queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(capacity)
        self.dropped = 0
        self._waiting_for_keyframe = False

    def wait_for_keyframe(self) -> None:
        """Drop video until the next key frame (a receiver that must start clean)."""
        if self.kind == "video":
            self._waiting_for_keyframe = True

    def offer(self, packet: av.Packet[Any] | None) -> None:
        if packet is None:
            self._force(None)
            return
        if self._waiting_for_keyframe:
            if not packet.is_keyframe:
                self.dropped += 1
                return
            self._waiting_for_keyframe = False
        if self.queue.full():
            self._overflow()
        self.queue.put_nowait(packet)

    def _overflow(self) -> None:
        # Empty the backlog; video resumes at the next key frame, which the
        # subscriber asks for (on_overflow) so the picture comes back at once.
        while not self.queue.empty():
            self.queue.get_nowait()
            self.dropped += 1
        self.wait_for_keyframe()

    def _force(self, item: None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(item)


class Fanout:
    """Reads packets from a passthrough track and offers each to every subscriber."""

    def __init__(
        self, source: MediaStreamTrack, *, on_packet: Callable[[av.Packet[Any]], None]
    ) -> None:
        self.source = source
        self.kind = source.kind
        self._subscriptions: list[Subscription] = []
        self._on_packet = on_packet
        self.packets = 0
        self._task = asyncio.ensure_future(self._run())

    def subscribe(self, capacity: int = SUBSCRIBER_QUEUE) -> Subscription:
        subscription = Subscription(self.kind, capacity)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    async def _run(self) -> None:
        try:
            while True:
                packet = await self.source.recv()
                # A passthrough track (media.passthrough) yields packets only.
                assert isinstance(packet, av.Packet)
                self.packets += 1
                self._on_packet(packet)
                for subscription in list(self._subscriptions):
                    subscription.offer(packet)
        except MediaStreamError:
            pass
        finally:
            for subscription in list(self._subscriptions):
                subscription.offer(None)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
