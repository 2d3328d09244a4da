"""A cluster on loopback for the tests, and a call client that speaks to it as a
page does: over the real signalling WebSocket of whichever node it is given."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from yarl import URL

from tests.media_support import NumberedCamera, Tone


class PageMedia(Protocol):
    """What a page sends and how it counts what it receives."""

    @property
    def video_frames(self) -> int:
        """Video frames received so far, over every connection."""
        ...

    def attach(self, pc: RTCPeerConnection) -> None:
        """Add the outgoing tracks to `pc` and count the video that comes in."""
        ...

    async def detach(self) -> None:
        """The connection is gone: stop reading its tracks."""
        ...


@dataclass
class DecodedMedia:
    """A numbered camera and a tone out; frames in decoded and counted, as a page's
    video element would show them."""

    video_frames: int = 0
    _sinks: list[asyncio.Task[None]] = field(default_factory=list)

    def attach(self, pc: RTCPeerConnection) -> None:
        pc.addTrack(NumberedCamera())
        pc.addTrack(Tone())
        pc.on("track", lambda track: self._sinks.append(asyncio.ensure_future(self._sink(track))))

    async def _sink(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video":
                    self.video_frames += 1

    async def detach(self) -> None:
        for sink in self._sinks:
            sink.cancel()
        await asyncio.gather(*self._sinks, return_exceptions=True)
        self._sinks = []


@dataclass
class PageCall:
    """A participant's page in a call: aiortc media (numbered frames out, frames in
    counted) and the page's habits: a socket that closes is opened again (on the
    next node in `nodes`, as the load balancer would pick another), a socket that
    opens offers a fresh connection, and so does a "reconnect" from the server."""

    session: ClientSession
    nodes: Sequence[URL]
    application_id: str
    media: PageMedia = field(default_factory=DecodedMedia)
    offers: int = 0
    messages: list[dict[str, object]] = field(default_factory=list)
    node_index: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _pc: RTCPeerConnection | None = None
    _socket: ClientWebSocketResponse | None = None
    _task: asyncio.Task[None] | None = None
    _closing: bool = False

    @property
    def video_frames(self) -> int:
        return self.media.video_frames

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    @property
    def node(self) -> URL:
        return self.nodes[self.node_index % len(self.nodes)]

    async def _run(self) -> None:
        while not self._closing and not self.ended.is_set():
            url = self.node.with_path(f"/api/calls/{self.application_id}/signal")
            try:
                async with self.session.ws_connect(url, heartbeat=5) as socket:
                    self._socket = socket
                    await self._offer()
                    async for frame in socket:
                        if frame.type is WSMsgType.TEXT:
                            await self._handle(json.loads(frame.data))
            except (TimeoutError, OSError, ConnectionError) as exc:
                self.messages.append({"type": "socket_error", "error": type(exc).__name__})
            except Exception as exc:
                self.messages.append({"type": "socket_error", "error": type(exc).__name__})
            self._socket = None
            if self._closing or self.ended.is_set():
                return
            self.node_index += 1  # this node is gone or refused: try the next
            await asyncio.sleep(0.5)

    async def _handle(self, message: dict[str, object]) -> None:
        self.messages.append(message)
        kind = message.get("type")
        if kind == "answer" and self._pc is not None:
            await self._pc.setRemoteDescription(
                RTCSessionDescription(str(message["sdp"]), "answer")
            )
        elif kind == "reconnect":
            await self._offer()
        elif kind == "ended":
            self.ended.set()

    async def _offer(self) -> None:
        await self._close_pc()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pc = pc
        self.media.attach(pc)

        @pc.on("connectionstatechange")
        async def failed() -> None:
            if pc is self._pc and pc.connectionState == "failed" and not self._closing:
                await self._offer()

        await pc.setLocalDescription(await pc.createOffer())
        self.offers += 1
        if self._socket is not None and not self._socket.closed:
            await self._socket.send_str(
                json.dumps({"type": "offer", "sdp": pc.localDescription.sdp})
            )

    async def frames_after(self, count: int, within: float) -> None:
        """Wait until `count` more video frames have arrived."""
        start = self.video_frames
        try:
            async with asyncio.timeout(within):
                while self.video_frames - start < count:  # noqa: ASYNC110 - counting frames
                    await asyncio.sleep(0.05)
        except TimeoutError:
            seen = [m.get("type") for m in self.messages[-20:]]
            raise AssertionError(
                f"{self.video_frames - start} of {count} frames in {within} s; "
                f"{self.offers} offers; node {self.node}; last messages {seen}"
            ) from None

    async def _close_pc(self) -> None:
        pc, self._pc = self._pc, None
        if pc is not None:
            await pc.close()
        await self.media.detach()

    async def close(self) -> None:
        self._closing = True
        if self._socket is not None:
            await self._socket.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._close_pc()
