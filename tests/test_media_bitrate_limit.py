"""The receiving browser's bandwidth (its REMB) caps what the sending browser is
told it may send."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    pack_remb_fci,
)

from media.bitrate_limit import FLOOR, STALE_SECONDS, DownstreamBitrate, cap, remb_of
from media.call import Call, CallSettings, Side
from media.ice import IceSettings
from tests.media_support import Client, RecordedEvents


def remb(bitrate: int, ssrcs: list[int]) -> RtcpPsfbPacket:
    return RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(bitrate, ssrcs)
    )


def test_a_downstream_figure_counts_only_while_fresh() -> None:
    now = [100.0]
    downstream = DownstreamBitrate(clock=lambda: now[0])
    assert downstream.current() is None
    downstream.heard(300_000)
    assert downstream.current() == 300_000
    now[0] += STALE_SECONDS + 0.1
    assert downstream.current() is None
    downstream.heard(200_000)
    assert downstream.current() == 200_000


@pytest.mark.parametrize(
    ("packet", "ssrc", "expected"),
    [
        (remb(500_000, [7, 8]), None, (500_000, [7, 8])),
        (remb(500_000, [7, 8]), 8, (500_000, [7, 8])),
        (remb(500_000, [7]), 9, None),  # for another stream
        (RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=7), None, None),
        (RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"ABCD1234"), None, None),
        (RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"RE"), None, None),
        (RtcpRrPacket(ssrc=1), None, None),
    ],
    ids=["remb", "remb-for-ssrc", "remb-other-ssrc", "pli", "other-app", "truncated", "rr"],
)
def test_remb_is_told_apart_from_other_feedback(
    packet: AnyRtcpPacket, ssrc: int | None, expected: tuple[int, list[int]] | None
) -> None:
    assert remb_of(packet, ssrc) == expected


class SentRtcp:
    """Stands in for a receiver's RTCP output: keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[AnyRtcpPacket] = []

    async def _send_rtcp(self, packet: AnyRtcpPacket) -> None:
        self.sent.append(packet)


async def test_a_remb_above_the_limit_is_lowered_and_nothing_else_changes() -> None:
    limit: list[int | None] = [400_000]
    output = SentRtcp()
    cap(output, lambda: limit[0])  # type: ignore[arg-type]
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=7)
    for packet in (remb(800_000, [7, 9]), remb(200_000, [7]), pli):
        await output._send_rtcp(packet)
    limit[0] = 50_000
    await output._send_rtcp(remb(800_000, [7]))
    limit[0] = None
    await output._send_rtcp(remb(900_000, [7]))
    assert [remb_of(p) for p in output.sent] == [
        (400_000, [7, 9]),
        (200_000, [7]),  # the sender's own uplink is the narrower
        None,
        (FLOOR, [7]),
        (900_000, [7]),
    ]
    assert output.sent[2] is pli


async def test_the_manager_s_bandwidth_reaches_the_applicant_s_encoder(tmp_path: Path) -> None:
    settings = CallSettings(IceSettings(), tmp_path / "recordings", grace=timedelta(seconds=3))
    running = Call("app-1", settings, RecordedEvents())
    applicant, manager = Client(Side.APPLICANT), Client(Side.MANAGER)
    for client in (applicant, manager):
        await running.join(client.side, f"{client.side.value}-user", client.notify)
        await client.connect(running)
    try:
        await manager.wait_for_frames(10)
        # The manager's own estimate would keep reporting plenty of bandwidth on
        # loopback: this test speaks for the manager's browser instead.
        watching = next(t.receiver for t in manager.pc.getTransceivers() if t.kind == "video")
        watching._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]
        server_ssrc = watching.getSynchronizationSources()[0].source
        # What the server tells the applicant's browser it may send.
        camera = next(t.sender for t in applicant.pc.getTransceivers() if t.kind == "video")
        told: list[int] = []
        handle = camera._handle_rtcp_packet

        async def noting(packet: AnyRtcpPacket) -> None:
            found = remb_of(packet, camera._ssrc)
            if found is not None:
                told.append(found[0])
            await handle(packet)

        camera._handle_rtcp_packet = noting  # type: ignore[method-assign]
        async with asyncio.timeout(10):
            while not told:  # noqa: ASYNC110 - waiting for the server's feedback
                await asyncio.sleep(0.1)

        for reported, expected in ((400_000, 400_000), (100_000, FLOOR)):
            told.clear()
            async with asyncio.timeout(10):
                while not told or told[-1] != expected:
                    await watching._send_rtcp(remb(reported, [server_ssrc]))
                    await asyncio.sleep(0.3)
            # aiortc's encoder follows what it is told, as a browser's does.
            assert camera._RTCRtpSender__encoder.target_bitrate == expected  # type: ignore[attr-defined]
    finally:
        await running.end("test_finished")
        await applicant.close()
        await manager.close()
