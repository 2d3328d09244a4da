"""The receiving participant's bandwidth, passed on to the sending one.

Each browser's video encoder follows the REMB (receiver estimated maximum bitrate)
the server sends it. aiortc's receiver computes that from how the packets reach the
server, so it knows the sender's uplink but not the other participant's downlink:
an applicant on good Wi-Fi would send 1.5 Mbit/s to a manager whose connection
takes 300 kbit/s, and the manager would see loss and frozen video. The receiving
browser reports what it can take as REMB on the server's sender; here the REMB
sent to the source is capped at that figure while it is fresh, as an SFU does, but
never below FLOOR.

Like media.rtp_intercept this wraps private methods of aiortc 1.16's sender and
receiver on the instance.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

# Browsers send REMB about once a second; an older figure no longer says anything.
STALE_SECONDS = 5.0
# However little the other side can take, the sender is never asked for less than
# this on its account: the recording and the identity checks watching the
# applicant's video need a usable 640x480 picture, whatever the manager's link.
FLOOR = 300_000


class DownstreamBitrate:
    """The latest REMB a participant's browser sent for the server's video sender."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heard: tuple[float, int] | None = None

    def heard(self, bitrate: int) -> None:
        self._heard = (self._clock(), bitrate)

    def current(self) -> int | None:
        if self._heard is None or self._clock() - self._heard[0] > STALE_SECONDS:
            return None
        return self._heard[1]


def remb_of(packet: AnyRtcpPacket, ssrc: int | None = None) -> tuple[int, list[int]] | None:
    """(bitrate, SSRCs) if `packet` is a REMB (for `ssrc`, when given)."""
    if not isinstance(packet, RtcpPsfbPacket) or packet.fmt != RTCP_PSFB_APP:
        return None
    try:
        bitrate, ssrcs = unpack_remb_fci(packet.fci)
    except ValueError:
        return None  # another application-layer feedback
    if ssrc is not None and ssrc not in ssrcs:
        return None
    return bitrate, ssrcs


def watch(sender: RTCRtpSender, downstream: DownstreamBitrate) -> None:
    """Note every REMB the browser sends for `sender`'s stream in `downstream`."""
    handle = sender._handle_rtcp_packet

    async def noting(packet: AnyRtcpPacket) -> None:
        remb = remb_of(packet, sender._ssrc)
        if remb is not None:
            downstream.heard(remb[0])
        await handle(packet)

    sender._handle_rtcp_packet = noting  # type: ignore[method-assign]


def cap(receiver: RTCRtpReceiver, limit: Callable[[], int | None]) -> None:
    """Lower each REMB `receiver` sends to its source to `limit()` (never below
    FLOOR), when there is a limit."""
    send = receiver._send_rtcp

    async def capped(packet: AnyRtcpPacket) -> None:
        ceiling = limit()
        if ceiling is not None and isinstance(packet, RtcpPsfbPacket):
            ceiling = max(ceiling, FLOOR)
            remb = remb_of(packet)
            if remb is not None and remb[0] > ceiling:
                packet = RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP,
                    ssrc=packet.ssrc,
                    media_ssrc=packet.media_ssrc,
                    fci=pack_remb_fci(ceiling, remb[1]),
                )
        await send(packet)

    receiver._send_rtcp = capped  # type: ignore[method-assign]
