"""SRTP packets between the socket and aiortc's RTP handlers, without the queue
and the coroutine layers aioice and aiortc put in between.

aioice puts every datagram it receives on an asyncio.Queue, which the DTLS
transport's task reads: one task wake-up per packet. Sending one RTP packet awaits
through four coroutines down to a non-blocking `sendto`. On a server relaying a few
thousand packets a second both show in its CPU. Here, once the DTLS transport has
handled its first SRTP packet the usual way, each SRTP or SRTCP packet goes from the
socket callback straight to the transport's handlers, and a relayed packet is
protected and written to the socket at once. aiortc's handlers only ever send
(a non-blocking call, also through a TURN relay), so they run to completion in the
callback; `run_now` hands anything that does wait to a task.

STUN and DTLS datagrams, and any packet arriving while older ones still wait in the
queue, take aiortc's own path, so packets are handled in the order they arrive.
Empty datagrams are dropped from the moment the path is installed: on one, aiortc
1.16's receive task fails and the connection's media stops for good, so anyone who
can reach the port could end a call with a single packet.

This reaches into private attributes of aiortc 1.16 and aioice 0.13 (pinned in
constraints.txt); `install` fails loudly if a future version renames them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pylibsrtp
from aiortc import RTCDtlsTransport, clock
from aiortc.rtcdtlstransport import State
from aiortc.rtp import is_rtcp

from media.errors import DirectPathUnavailable

logger = logging.getLogger(__name__)

_COUNTERS = "_RTCDtlsTransport__"
_TRANSPORT_REQUIRED = ("_state", "_rx_srtp", "_tx_srtp", "_handle_rtp_data", "_handle_rtcp_data")
_CONNECTION_REQUIRED = ("_queue", "_nominated", "data_received")
_INSTALLED = "_signroom_direct_path"
_finishing: set[asyncio.Future[None]] = set()  # kept referenced until done


class DirectPath:
    """The direct path of one DTLS transport (one peer connection, bundled)."""

    def __init__(self, transport: RTCDtlsTransport) -> None:
        connection: Any = getattr(transport.transport, "_connection", None)
        missing = [name for name in _TRANSPORT_REQUIRED if not hasattr(transport, name)]
        missing += [name for name in _CONNECTION_REQUIRED if not hasattr(connection, name)]
        missing += [
            name
            for name in ("rx_bytes", "rx_packets", "tx_bytes", "tx_packets")
            if not hasattr(transport, _COUNTERS + name)
        ]
        if missing:
            raise DirectPathUnavailable(f"aiortc/aioice lack {missing}")
        self.direct = 0  # SRTP packets handled from the socket callback
        self._transport = transport
        self._connection = connection
        self._queue: asyncio.Queue[Any] = self._connection._queue
        self._open = False
        self._counters = {
            direction: (_COUNTERS + direction + "_bytes", _COUNTERS + direction + "_packets")
            for direction in ("rx", "tx")
        }
        self._pair: Any = None  # the nominated pair, and its remote address
        self._remote_addr: tuple[str, int] | None = None

    def install(self) -> None:
        queued: Callable[[bytes, int], None] = self._connection.data_received
        first_handler = self._transport._handle_rtp_data

        async def handle_first(data: bytes, arrival_time_ms: int) -> None:
            # Opened only now, so everything aiortc does when a connection comes up
            # (starting its senders and receivers) has happened by the usual path.
            del self._transport._handle_rtp_data
            self._open = True
            await first_handler(data, arrival_time_ms)

        def data_received(data: bytes, component: int) -> None:
            if not data:
                return  # carries nothing, and aiortc's task would die on it
            if self._open and 127 < data[0] < 192 and self._queue.empty():
                self.direct += 1
                try:
                    run_now(self._handle_srtp(data))
                except Exception:
                    # aiortc's own task would stop receiving here; one bad packet
                    # should cost only itself.
                    logger.exception("a received RTP packet could not be handled")
            else:
                queued(data, component)

        self._transport._handle_rtp_data = handle_first  # type: ignore[method-assign]
        self._connection.data_received = data_received

    async def _handle_srtp(self, data: bytes) -> None:
        # What RTCDtlsTransport._recv_next does with an SRTP or SRTCP datagram.
        transport = self._transport
        if transport._state is not State.CONNECTED:
            return
        self._count("rx", data)
        arrival_time_ms = clock.current_ms()
        try:
            if is_rtcp(data):
                await transport._handle_rtcp_data(transport._rx_srtp.unprotect_rtcp(data))
            else:
                plain = transport._rx_srtp.unprotect(data)
                await transport._handle_rtp_data(plain, arrival_time_ms=arrival_time_ms)
        except pylibsrtp.Error:
            return  # not for us, or replayed: aiortc drops these too

    @property
    def connected(self) -> bool:
        """The transport's state is "connected" (read without aiortc's `state`,
        which formats an enum: this is asked for every relayed packet)."""
        return self._transport._state is State.CONNECTED

    def send_rtp(self, data: bytes) -> None:
        """Protect one RTP packet and send it now (what aiortc's `_send_rtp` does
        through four coroutines)."""
        transport = self._transport
        pair = self._connection._nominated.get(1)
        if transport._state is not State.CONNECTED or pair is None:
            raise ConnectionError("not connected")
        if pair is not self._pair:
            # aioice builds the address tuple anew on every read.
            self._pair, self._remote_addr = pair, pair.remote_addr
        protected = transport._tx_srtp.protect(data)
        pair.protocol.transport.sendto(protected, self._remote_addr)
        self._count("tx", protected)

    def _count(self, direction: str, data: bytes) -> None:
        # The transport's statistics (RTCTransportStats), as aiortc keeps them.
        transport = self._transport
        size_counter, packet_counter = self._counters[direction]
        setattr(transport, size_counter, getattr(transport, size_counter) + len(data))
        setattr(transport, packet_counter, getattr(transport, packet_counter) + 1)


def install(transport: RTCDtlsTransport) -> DirectPath:
    """The direct path for `transport`, installed once however often asked (with
    bundling every transceiver shares one transport). Install before it connects."""
    path: DirectPath | None = getattr(transport, _INSTALLED, None)
    if path is None:
        path = DirectPath(transport)
        path.install()
        setattr(transport, _INSTALLED, path)
    return path


def installed(transport: RTCDtlsTransport) -> DirectPath | None:
    path: DirectPath | None = getattr(transport, _INSTALLED, None)
    return path


def run_now(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` here and now; if it has to wait after all, a task finishes it."""
    try:
        waiting = work.send(None)
    except StopIteration:
        return
    task = asyncio.ensure_future(_finish(work, waiting))
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)


async def _finish(work: Coroutine[Any, Any, None], waiting: Any) -> None:
    # Resumes a coroutine the way an asyncio task would, from where run_now left it.
    try:
        while True:
            if isinstance(waiting, asyncio.Future):
                waiting._asyncio_future_blocking = False
                await asyncio.wait((waiting,))
            else:
                await asyncio.sleep(0)  # a bare yield
            try:
                waiting = work.send(None)
            except StopIteration:
                return
    finally:
        work.close()
