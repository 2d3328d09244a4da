"""The direct path between the server's sockets and aiortc's RTP handlers: it takes
over once a connection is up, keeps packets in arrival order, and a malformed
datagram costs only itself."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCDtlsTransport

from media import direct_path
from media.call import Call, CallSettings, Side
from media.ice import IceSettings
from tests.media_support import Client, RecordedEvents


@pytest.fixture
async def clients(tmp_path: Path) -> AsyncIterator[tuple[Call, Client, Client]]:
    settings = CallSettings(IceSettings(), tmp_path / "recordings", grace=timedelta(seconds=3))
    running = Call("app-1", settings, RecordedEvents())
    joined = []
    for side in Side:
        client = Client(side)
        await running.join(side, f"{side.value}-user", client.notify)
        await client.connect(running)
        joined.append(client)
    applicant, manager = joined
    await manager.wait_for_frames(15)
    await applicant.wait_for_frames(15)
    yield running, applicant, manager
    await running.end("test_finished")
    for client in joined:
        await client.close()


def server_transport(call: Call, side: Side) -> RTCDtlsTransport:
    connection = call.participants[side].connection
    assert connection is not None
    return connection.pc.getTransceivers()[0].receiver.transport


def ice_of(transport: RTCDtlsTransport) -> Any:
    return transport.transport._connection


async def test_packets_go_straight_from_the_socket_once_the_connection_is_up(
    clients: tuple[Call, Client, Client],
) -> None:
    running, _applicant, manager = clients
    await manager.wait_for_frames(30)
    for side in Side:
        connection = running.participants[side].connection
        assert connection is not None
        transport = server_transport(running, side)
        path = direct_path.installed(transport)
        assert path is not None
        rtp_received = 0
        for transceiver in connection.pc.getTransceivers():
            # Every transceiver shares the bundled transport, and so its one path.
            assert direct_path.install(transceiver.receiver.transport) is path
            for stats in (await transceiver.receiver.getStats()).values():
                if stats.type == "inbound-rtp":
                    rtp_received += stats.packetsReceived
        # All but the packets before the first one aiortc handled itself (and any
        # that arrived while those were queued).
        assert path.direct > 0.9 * rtp_received > 100
        # The transport's own statistics still count what arrived and left this way.
        transport_stats = next(s for s in transport._get_stats().values() if s.type == "transport")
        assert transport_stats.packetsReceived >= path.direct
        assert transport_stats.packetsSent > 100


async def test_a_packet_waits_behind_packets_already_queued(
    clients: tuple[Call, Client, Client],
) -> None:
    running, _applicant, manager = clients
    transport = server_transport(running, Side.APPLICANT)
    path = direct_path.installed(transport)
    assert path is not None
    ice = ice_of(transport)
    before = path.direct
    stale = b"\x80" + bytes(40)  # not valid SRTP: aiortc will drop it
    ice._queue.put_nowait((stale, 1))
    ice.data_received(stale, 1)
    assert ice._queue.qsize() == 2
    assert path.direct == before
    await manager.wait_for_frames(15)
    assert ice._queue.empty()
    assert path.direct > before


async def test_malformed_datagrams_cost_only_themselves(
    clients: tuple[Call, Client, Client],
) -> None:
    running, applicant, manager = clients
    transport = server_transport(running, Side.APPLICANT)
    ice = ice_of(transport)
    # Keep one real SRTP datagram from the applicant to replay it.
    captured: list[bytes] = []
    receive = ice.data_received

    def capture(data: bytes, component: int) -> None:
        if not captured and data and 127 < data[0] < 192:
            captured.append(data)
        receive(data, component)

    ice.data_received = capture
    await manager.wait_for_frames(5)
    ice.data_received = receive
    corpus = [
        b"",  # an empty datagram
        b"\x80",  # one byte of an RTP header
        b"\x80\xc8",  # the start of a sender report
        b"\x80" + bytes(11),  # an RTP header and nothing else
        b"\x90" + os.urandom(200),  # RTP with an extension bit, random after
        b"\x81\xc9" + os.urandom(30),  # a receiver report that fails authentication
        b"\xbf" + b"\xff" * 1400,
        captured[0],  # a replay
    ]
    pair = ice._nominated[1]
    local = (pair.local_candidate.host, pair.local_candidate.port)
    path = direct_path.installed(transport)
    assert path is not None
    before = path.direct
    loop = asyncio.get_running_loop()
    failures: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: failures.append(context))
    try:
        # The nominated pair may be IPv6 on a host that has it.
        family, _type, _proto, _name, address = socket.getaddrinfo(*local, type=socket.SOCK_DGRAM)[
            0
        ]
        with socket.socket(family, socket.SOCK_DGRAM) as attacker:
            for datagram in corpus:
                attacker.sendto(datagram, address)
        await asyncio.sleep(0.2)
        assert path.direct >= before + len(corpus) - 1  # all but the empty one
        await manager.wait_for_frames(15)
        await applicant.wait_for_frames(15)
    finally:
        loop.set_exception_handler(None)
    assert failures == []
    assert transport.state == "connected"


async def test_work_that_never_waits_runs_at_once() -> None:
    steps: list[str] = []

    async def work() -> None:
        steps.append("done")

    direct_path.run_now(work())
    assert steps == ["done"]


async def test_work_that_waits_is_finished_by_a_task() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[str] = loop.create_future()
    finished = asyncio.Event()
    steps: list[str] = []

    async def work() -> None:
        steps.append("started")
        await asyncio.sleep(0)
        steps.append(await gate)
        finished.set()

    direct_path.run_now(work())
    assert steps == ["started"]
    gate.set_result("resumed")
    async with asyncio.timeout(5):
        await finished.wait()
    assert steps == ["started", "resumed"]
