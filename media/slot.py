"""What a participant receives of the other side: a track that outlives connections.

The server's sender towards a participant is fed by a slot, not by the other side's
track directly, so that when the other side reconnects (a new peer connection, new
receivers) the slot is simply attached to the new source and nothing has to be
renegotiated with the participant who stayed. Timestamps are rebased on each
attachment so the receiving browser sees one continuous stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.fanout import Fanout, Subscription

# One frame's worth of RTP clock: 30 fps video at 90 kHz, 20 ms Opus at 48 kHz.
_STEP = {"video": 3000, "audio": 960}


class SlotTrack(MediaStreamTrack):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._fanout: Fanout | None = None
        self._subscription: Subscription | None = None
        self._attached = asyncio.Event()
        self._offset: int | None = None
        self._last_pts: int | None = None
        self.forwarded = 0

    def attach(self, fanout: Fanout, request_keyframe: Callable[[], None]) -> None:
        """Forward `fanout` from now on (from its next key frame, for video)."""
        self.detach()
        self._fanout = fanout
        self._subscription = fanout.subscribe()
        self._offset = None
        if self.kind == "video":
            self._subscription.wait_for_keyframe()
            request_keyframe()
        self._attached.set()

    def detach(self) -> None:
        if self._fanout is not None and self._subscription is not None:
            self._fanout.unsubscribe(self._subscription)
            # Wake a recv() waiting on this subscription: it goes back to waiting
            # for the next attachment.
            self._subscription.offer(None)
        self._fanout = None
        self._subscription = None
        self._attached.clear()

    def detach_from(self, fanout: Fanout) -> None:
        """Detach if (and only if) `fanout` is the current source."""
        if self._fanout is fanout:
            self.detach()

    async def recv(self) -> av.Packet[Any]:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._attached.wait()
            subscription = self._subscription
            if subscription is None:
                continue
            packet = await subscription.queue.get()
            if packet is None:
                # The source ended (its connection closed): wait for the next one.
                if subscription is self._subscription:
                    self.detach()
                continue
            return self._rebased(packet)

    def _rebased(self, packet: av.Packet[Any]) -> av.Packet[Any]:
        assert packet.pts is not None
        if self._offset is None:
            following = 0 if self._last_pts is None else self._last_pts + _STEP[self.kind]
            self._offset = following - packet.pts
        out = av.Packet(bytes(packet))
        out.pts = out.dts = packet.pts + self._offset
        out.time_base = packet.time_base
        out.is_keyframe = packet.is_keyframe
        self._last_pts = out.pts
        self.forwarded += 1
        return out

    def stop(self) -> None:
        self.detach()
        self._attached.set()  # wake recv() so it sees the track has ended
        super().stop()
