"""Malformed and out-of-order signalling: each gets a precise error and changes
nothing; TURN credentials, ICE configuration and the quality badge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtpPacket

from media.call import Call, CallSettings, Side
from media.codec_preference import prefer_video_codecs, prefer_vp8, video_codecs
from media.errors import SignallingError
from media.ice import IceSettings, turn_credential
from media.keyframes import is_keyframe, starts_keyframe
from media.quality import Badge, QualitySample
from media.signalling import MAX_CANDIDATES, Candidate, Leave, Offer, Ping, parse
from media.video_format import vp8_size
from tests.media_support import Client, RecordedEvents
from tests.signalling_corpus import MALFORMED

GOOD_SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


@pytest.mark.parametrize(("raw", "code"), MALFORMED)
def test_malformed_messages_are_refused_with_a_precise_code(raw: str | bytes, code: str) -> None:
    with pytest.raises(SignallingError) as refused:
        parse(raw)
    assert refused.value.code == code
    message = refused.value.as_message()
    assert message["type"] == "error" and message["message"]


def test_well_formed_messages_parse() -> None:
    assert parse(json.dumps({"type": "offer", "sdp": GOOD_SDP})) == Offer(GOOD_SDP)
    assert parse('{"type": "leave"}') == Leave()
    assert parse('{"type": "ping"}') == Ping()
    candidate = parse(
        '{"type": "candidate", "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host",'
        ' "sdpMid": "0", "sdpMLineIndex": 0}}'
    )
    assert candidate == Candidate("candidate:1 1 udp 1 1.2.3.4 5 typ host", "0", 0)


@pytest.fixture
async def call(tmp_path: Path) -> AsyncIterator[tuple[Call, RecordedEvents]]:
    events = RecordedEvents()
    running = Call("app-2", CallSettings(IceSettings(), tmp_path), events)
    yield running, events
    await running.end("test_finished")


async def test_out_of_order_and_unusable_messages_leave_the_call_as_it_was(
    call: tuple[Call, RecordedEvents],
) -> None:
    running, events = call
    with pytest.raises(SignallingError) as not_joined:
        await running.handle(Side.APPLICANT, Ping())
    assert not_joined.value.code == "not_joined"

    manager = Client(Side.MANAGER)
    await running.join(Side.MANAGER, "manager-user", manager.notify)
    await manager.connect(running)
    applicant = Client(Side.APPLICANT)
    await running.join(Side.APPLICANT, "applicant-user", applicant.notify)
    with pytest.raises(SignallingError) as early:
        await running.handle(
            Side.APPLICANT, Candidate("candidate:1 1 udp 1 1.2.3.4 5 typ host", "0", 0)
        )
    assert early.value.code == "no_offer"
    # Parses as a description but cannot be negotiated (no ICE, no DTLS, no codecs).
    with pytest.raises(SignallingError) as unusable:
        await running.handle(Side.APPLICANT, Offer(GOOD_SDP))
    assert unusable.value.code == "bad_sdp"
    assert running.participants[Side.APPLICANT].connection is None
    assert "call.connected" not in [a for a, d in events.records if d.get("side") == "applicant"]

    # The same participant can still connect properly, and media flows.
    await applicant.connect(running)
    await manager.wait_for_frames(10)
    with pytest.raises(SignallingError) as garbage:
        await running.handle(
            Side.APPLICANT,
            parse(json.dumps({"type": "candidate", "candidate": {"candidate": "candidate:x y"}})),
        )
    assert garbage.value.code == "bad_candidate"
    # A well-formed late candidate is accepted without disturbing the connection.
    await running.handle(
        Side.APPLICANT, Candidate("candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", "0", 0)
    )
    await manager.wait_for_frames(10)
    assert not running.ended
    await applicant.close()
    await manager.close()


async def browser_like_offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio")
    pc.addTransceiver("video")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def _mutations(sdp: str) -> dict[str, str]:
    video = re.search(r"m=video (\d+) (\S+) ([\d ]+)", sdp)
    assert video is not None
    first = video.group(3).split()[0]
    return {
        "payload type 300": sdp.replace(f"a=rtpmap:{first} ", "a=rtpmap:300 ").replace(
            video.group(0), video.group(0).replace(f" {first}", " 300", 1)
        ),
        "payload type 72": sdp.replace(f"a=rtpmap:{first} ", "a=rtpmap:72 ").replace(
            video.group(0), video.group(0).replace(f" {first}", " 72", 1)
        ),
        "bad m-line": sdp.replace("m=video ", "m=video x y z\r\nm=vid ", 1),
        "fmtp for an unknown payload type": sdp.replace(
            "a=rtpmap:", "a=fmtp:119 apt=118\r\na=rtpmap:", 1
        ),
        "garbage c= line": re.sub(r"c=IN IP4 \S+", "c=garbage", sdp, count=1),
    }


async def test_hostile_offers_are_refused_and_leave_no_thread_behind(
    call: tuple[Call, RecordedEvents],
) -> None:
    """Offers mutated the way an attacker did: each is a bad_sdp error (never an
    exception out of aiortc), and none leaves a recorder thread running."""
    running, _events = call
    applicant = Client(Side.APPLICANT)
    await running.join(Side.APPLICANT, "applicant-user", applicant.notify)
    sdp = await browser_like_offer()

    def recorders() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("recorder-")]

    assert recorders() == []
    for name, mutated in _mutations(sdp).items():
        assert mutated != sdp, name
        for _ in range(3):
            with pytest.raises(SignallingError) as refused:
                await running.handle(Side.APPLICANT, Offer(mutated))
            assert refused.value.code == "bad_sdp", name
        assert running.participants[Side.APPLICANT].connection is None, name
    assert recorders() == []
    # The same participant still connects with a good offer afterwards.
    await applicant.connect(running)
    assert running.participants[Side.APPLICANT].connection is not None
    for n in range(MAX_CANDIDATES):
        await running.handle(
            Side.APPLICANT,
            Candidate(f"candidate:{n} 1 udp 2130706431 127.0.0.{n % 200 + 2} 9 typ host", "0", 0),
        )
    with pytest.raises(SignallingError) as flood:
        await running.handle(
            Side.APPLICANT, Candidate("candidate:x 1 udp 2130706431 127.0.0.1 9 typ host", "0", 0)
        )
    assert flood.value.code == "too_many_candidates"
    await applicant.close()


async def test_the_case_leaves_the_interview_before_the_pages_hear_the_call_ended(
    call: tuple[Call, RecordedEvents],
) -> None:
    """The manager's console reloads when told the call ended; had the case still
    been in the interview then, it would have started another call."""
    running, events = call
    manager = Client(Side.MANAGER)
    ended_before: list[list[str]] = []

    async def notify(message: Mapping[str, object]) -> None:
        if message.get("type") == "ended":
            ended_before.append(list(events.ended_reasons))
        await manager.notify(message)

    await running.join(Side.MANAGER, "manager-user", notify)
    await running.end("manager_ended")
    assert ended_before == [["manager_ended"]]


def test_turn_credentials_follow_coturns_rest_api() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    credential = turn_credential("s3cret", "applicant-42", now=now, ttl=timedelta(hours=1))
    expiry = int((now + timedelta(hours=1)).timestamp())
    assert credential.username == f"{expiry}:applicant-42"
    # coturn's check: base64(HMAC-SHA1(static-auth-secret, username)).
    expected = base64.b64encode(
        hmac.new(b"s3cret", credential.username.encode(), hashlib.sha1).digest()
    ).decode()
    assert credential.password == expected
    assert (
        credential.password
        != turn_credential("other", "applicant-42", now=now, ttl=timedelta(hours=1)).password
    )
    with pytest.raises(ValueError, match="':'"):
        turn_credential("s3cret", "a:b", now=now, ttl=timedelta(hours=1))


def test_ice_configuration_is_never_aiortcs_public_default() -> None:
    now = datetime.now(UTC)
    assert IceSettings().rtc_configuration("u", now=now).iceServers == []
    settings = IceSettings(
        stun_urls=("stun:stun.bank.example:3478",),
        turn_urls=("turn:turn.bank.example:3478?transport=udp",),
        turn_secret="k",
    )
    servers = settings.rtc_configuration("u", now=now).iceServers
    assert servers is not None
    assert [s.urls for s in servers] == [
        ["stun:stun.bank.example:3478"],
        ["turn:turn.bank.example:3478?transport=udp"],
    ]
    assert servers[1].username and servers[1].credential
    assert "google" not in json.dumps(settings.servers("u", now=now))


@pytest.mark.parametrize(
    ("sample", "badge"),
    [
        (QualitySample(40, 0.0, 600), Badge.GOOD),
        (QualitySample(200, 0.0, 600), Badge.FAIR),
        (QualitySample(40, 0.05, 600), Badge.FAIR),
        (QualitySample(40, 0.0, 100), Badge.FAIR),
        (QualitySample(500, 0.0, 600), Badge.POOR),
        (QualitySample(40, 0.2, 600), Badge.POOR),
        (QualitySample(40, 0.0, 20), Badge.POOR),
        (QualitySample(None, None, None), Badge.UNKNOWN),
        (QualitySample(None, None, 600), Badge.GOOD),
    ],
)
def test_quality_badge_is_the_worst_of_its_measures(sample: QualitySample, badge: Badge) -> None:
    assert sample.badge() is badge


def test_vp8_and_h264_key_frames_are_recognised() -> None:
    # VP8 key frame: tag bit 0 clear, start code 9d 01 2a, then 14-bit width and height.
    key = (
        bytes([0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A])
        + (640).to_bytes(2, "little")
        + (480).to_bytes(2, "little")
    )
    assert is_keyframe("vp8", key)
    assert vp8_size(key) == (640, 480)
    inter = bytes([0x51]) + key[1:]
    assert not is_keyframe("vp8", inter)
    assert vp8_size(inter) is None
    assert vp8_size(b"") is None
    idr = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x01\x65\x88"
    assert is_keyframe("h264", idr)
    assert not is_keyframe("h264", b"\x00\x00\x00\x01\x41\x9a")


def _rtp(payload: bytes, data: bytes) -> RtpPacket:
    """A packet as aiortc's receiver leaves it: payload as sent, `_data` depacketised."""
    packet = RtpPacket(payload_type=96, payload=payload)
    packet._data = data  # type: ignore[attr-defined]
    return packet


VP8_KEY = bytes([0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A]) + bytes(4)


@pytest.mark.parametrize(
    ("codec", "payload", "data", "starts"),
    [
        # VP8 (RFC 7741): S bit set, partition 0, key frame tag.
        ("vp8", bytes([0x10]) + VP8_KEY, VP8_KEY, True),
        # Extended descriptor with a 15-bit picture id before the frame.
        ("vp8", bytes([0x90, 0x80, 0x80, 0x01]) + VP8_KEY, VP8_KEY, True),
        # The middle of a key frame: bit 0 of its first byte is clear by chance.
        ("vp8", bytes([0x00]) + VP8_KEY, VP8_KEY, False),
        ("vp8", bytes([0x11]) + VP8_KEY, VP8_KEY, False),  # partition 1
        ("vp8", bytes([0x10, 0x51]), bytes([0x51]), False),  # inter frame
        # Malformed: nothing, or an extended descriptor cut short.
        ("vp8", b"", b"", False),
        ("vp8", bytes([0x90]), b"", False),
        ("vp8", bytes([0x90, 0x80, 0x80]), b"", False),
        # H.264: parameter sets (sent just before the IDR slice) or the IDR slice.
        ("h264", b"\x18", b"\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce", True),
        ("h264", b"\x7c\x85", b"\x00\x00\x01\x65\x88", True),
        ("h264", b"\x7c\x05", b"\x88\x84", False),  # FU-A continuation
        ("h264", b"\x41", b"\x00\x00\x01\x41\x9a", False),
        ("h264", b"", b"", False),
    ],
)
def test_forwarding_starts_a_new_receiver_at_the_first_packet_of_a_key_frame(
    codec: str, payload: bytes, data: bytes, starts: bool
) -> None:
    assert starts_keyframe(codec, _rtp(payload, data)) is starts


def _sdp(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


AUDIO_SECTION = ("m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "a=rtpmap:111 opus/48000/2", "a=mid:0")


def test_vp8_goes_first_in_each_video_section_and_nothing_else_moves() -> None:
    # As Safari offers: H.264 first, in the m= line and in the attribute lines.
    safari = _sdp(
        "v=0",
        *AUDIO_SECTION,
        "m=video 9 UDP/TLS/RTP/SAVPF 98 99 96 97 100",
        "a=mid:1",
        "a=rtpmap:98 H264/90000",
        "a=rtcp-fb:98 nack pli",
        "a=fmtp:98 packetization-mode=1",
        "a=rtpmap:99 rtx/90000",
        "a=fmtp:99 apt=98",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:100 red/90000",
        "a=sendrecv",
    )
    assert prefer_vp8(safari) == _sdp(
        "v=0",
        *AUDIO_SECTION,
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100",
        "a=mid:1",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:98 H264/90000",
        "a=rtcp-fb:98 nack pli",
        "a=fmtp:98 packetization-mode=1",
        "a=rtpmap:99 rtx/90000",
        "a=fmtp:99 apt=98",
        "a=rtpmap:100 red/90000",
        "a=sendrecv",
    )


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "garbage",
        "m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 H264/90000\r\n",  # no VP8 offered
        "m=video 9 UDP/TLS/RTP/SAVPF\r\n",  # no formats
        "m=video 0\r\n",
        "m=video 9 RTP/AVP 96\r\na=rtpmap:96\r\na=fmtp:96 apt=\r\n",
    ],
)
def test_offers_without_a_vp8_section_pass_unchanged(sdp: str) -> None:
    assert prefer_vp8(sdp).splitlines() == sdp.splitlines()


SAFARI_VIDEO = (
    "m=video 9 UDP/TLS/RTP/SAVPF 98 99 96 97 100",
    "a=rtpmap:98 H264/90000",
    "a=rtpmap:99 rtx/90000",
    "a=fmtp:99 apt=98",
    "a=rtpmap:96 VP8/90000",
    "a=rtpmap:97 rtx/90000",
    "a=fmtp:97 apt=96",
    "a=rtpmap:100 red/90000",
)


def test_the_codec_the_other_side_sends_goes_first_else_vp8() -> None:
    offer = _sdp("v=0", *AUDIO_SECTION, *SAFARI_VIDEO)
    assert video_codecs(offer) == ["h264", "vp8"]
    # Nobody else sends yet, or they send VP8: VP8 first.
    assert video_codecs(prefer_video_codecs(offer, "vp8")) == ["vp8", "h264"]
    # The other side sends H.264 (a browser without VP8): H.264 first.
    assert video_codecs(prefer_video_codecs(offer, "h264", "vp8")) == ["h264", "vp8"]
    # A codec the offer lacks changes nothing but the fallback.
    assert video_codecs(prefer_video_codecs(offer, "av1", "vp8")) == ["vp8", "h264"]
    assert video_codecs(_sdp("v=0", *AUDIO_SECTION)) == []
