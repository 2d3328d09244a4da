"""A call whose every candidate is a TURN relay on Debian's coturn, running on
loopback with the TURN REST API secret (use-auth-secret), as a bank would run it."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection

from media.call import Call, CallSettings, Side
from media.ice import IceSettings
from tests.media_support import Client, RecordedEvents

TURNSERVER = shutil.which("turnserver")
pytestmark = [
    pytest.mark.skipif(TURNSERVER is None, reason="coturn (Debian turnserver) not installed"),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[tuple[IceSettings, Path]]:
    assert TURNSERVER is not None
    port = free_port()
    secret = secrets.token_hex(16)
    log = tmp_path / "turn.log"
    process = subprocess.Popen(
        [
            TURNSERVER,
            "-n",
            "--listening-ip=127.0.0.1",
            f"--listening-port={port}",
            "--relay-ip=127.0.0.1",
            "--min-port=40000",
            "--max-port=40999",
            "--use-auth-secret",
            f"--static-auth-secret={secret}",
            "--realm=signroom.test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",
            "--fingerprint",
            f"--userdb={tmp_path / 'turndb'}",
            f"--pidfile={tmp_path / 'turn.pid'}",
            f"--log-file={log}",
            "--simple-log",
            "--verbose",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            if log.exists() and "listener opened on" in log.read_text(errors="replace"):
                break
            assert process.poll() is None, log.read_text(errors="replace") if log.exists() else ""
            time.sleep(0.1)
        settings = IceSettings(
            turn_urls=(f"turn:127.0.0.1:{port}?transport=udp",),
            turn_secret=secret,
            turn_ttl=timedelta(minutes=5),
            relay_only=True,
        )
        yield settings, log
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if process.poll() is None:
            process.kill()


def candidate_types(pc: RTCPeerConnection) -> set[str]:
    found = set()
    for transceiver in pc.getTransceivers():
        gatherer = transceiver.sender.transport.transport.iceGatherer
        found |= {candidate.type for candidate in gatherer.getLocalCandidates()}
    return found


@pytest.fixture
async def relayed_call(
    coturn: tuple[IceSettings, Path], tmp_path: Path
) -> AsyncIterator[tuple[Call, IceSettings, Path]]:
    settings, log = coturn
    events = RecordedEvents()
    call = Call("app-turn", CallSettings(settings, tmp_path / "rec"), events)
    yield call, settings, log
    await call.end("test_finished")


async def test_a_call_completes_with_relay_candidates_only(
    relayed_call: tuple[Call, IceSettings, Path],
) -> None:
    call, settings, log = relayed_call
    clients = []
    for side in (Side.APPLICANT, Side.MANAGER):
        client = Client(
            side,
            pc=RTCPeerConnection(settings.rtc_configuration(side.value, now=datetime.now(UTC))),
        )
        await call.join(side, side.value, client.notify)
        await client.connect(call)
        clients.append(client)
    applicant, manager = clients
    await manager.wait_for_frames(20)
    await applicant.wait_for_frames(20)
    # Every candidate on every side is a relay on coturn: no direct path exists.
    assert candidate_types(applicant.pc) == {"relay"}
    assert candidate_types(manager.pc) == {"relay"}
    server_side = call.participants[Side.APPLICANT].connection
    assert server_side is not None and candidate_types(server_side.pc) == {"relay"}
    await asyncio.sleep(0.5)
    text = log.read_text(errors="replace")
    # coturn accepted the HMAC credentials and relayed for each peer connection.
    assert text.count("ALLOCATE processed, success") >= 4, text[-2000:]
    for client in clients:
        await client.close()


async def test_an_expired_or_forged_credential_is_refused_by_coturn(
    relayed_call: tuple[Call, IceSettings, Path],
) -> None:
    _call, settings, log = relayed_call
    forged = IceSettings(
        turn_urls=settings.turn_urls, turn_secret="not-the-secret", relay_only=True
    )
    expired_now = datetime.now(UTC) - timedelta(hours=2)
    for config in (
        forged.rtc_configuration("x", now=datetime.now(UTC)),
        settings.rtc_configuration("x", now=expired_now),
    ):
        pc = RTCPeerConnection(config)
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        assert candidate_types(pc) == set(), "no relay may be allocated"
        await pc.close()
    assert "ALLOCATE processed, success" not in log.read_text(errors="replace")
