"""aiortc clients standing in for the browsers in media tests that need no browser.

A client sends a synthetic camera (a moving gradient whose frame number is drawn as
a pixel code in the top rows) and a tone, receives the other side through the
server, and counts what it decodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import (
    AudioStreamTrack,
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)
from aiortc.rtp import RtpPacket

from media.call import Call, Side
from media.codec_preference import prefer_video_codec
from media.recording import SegmentInfo
from media.signalling import Offer, parse
from tests.vp8_support import STEP

WIDTH, HEIGHT = 320, 240
CODE_BITS = 16
CODE_CELL = 8  # pixels per bit, in the top row band


def draw_code(image: np.ndarray[Any, Any], value: int) -> None:
    for bit in range(CODE_BITS):
        on = (value >> bit) & 1
        image[0:CODE_CELL, bit * CODE_CELL : (bit + 1) * CODE_CELL] = 255 if on else 0


def read_code(image: np.ndarray[Any, Any]) -> int:
    value = 0
    for bit in range(CODE_BITS):
        cell = image[1 : CODE_CELL - 1, bit * CODE_CELL + 1 : (bit + 1) * CODE_CELL - 1]
        if cell.mean() > 128:
            value |= 1 << bit
    return value


class NumberedCamera(VideoStreamTrack):
    """A moving picture with its frame number encoded in the top band."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        x = np.arange(self.width)[None, :, None]
        y = np.arange(self.height)[:, None, None]
        phase = self.sent * 4
        image = np.repeat(((x + y + phase) % 200 + 30).astype(np.uint8), 3, axis=2)
        draw_code(image, self.sent % (1 << CODE_BITS))
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        self.sent += 1
        return frame


class Tone(AudioStreamTrack):
    """A 440 Hz tone, so the audio is not digital silence."""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        assert isinstance(frame, av.AudioFrame)
        samples = frame.samples
        start = frame.pts or 0
        t = (np.arange(samples) + start) / frame.sample_rate
        wave = (0.2 * 32767 * np.sin(2 * math.pi * 440 * t)).astype(np.int16)
        tone = av.AudioFrame.from_ndarray(wave[None, :], format="s16", layout="mono")
        tone.sample_rate = frame.sample_rate
        tone.pts = frame.pts
        tone.time_base = fractions.Fraction(1, frame.sample_rate)
        return tone


@dataclass
class Client:
    side: Side
    pc: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    messages: asyncio.Queue[dict[str, object]] = field(default_factory=asyncio.Queue)
    camera: VideoStreamTrack = field(default_factory=NumberedCamera)
    # A video codec this client's offer lists first, as Safari does H.264; like a
    # browser, the client then sends whatever the answer lists first.
    offer_first: str | None = None
    # The only video codec this client offers, as a browser without VP8 would.
    offer_only: str | None = None
    offered: str = ""
    video_frames: int = 0
    audio_frames: int = 0
    codes: list[int] = field(default_factory=list)
    brightness: list[float] = field(default_factory=list)
    _sinks: list[asyncio.Task[None]] = field(default_factory=list)

    async def notify(self, message: Mapping[str, object]) -> None:
        # Through JSON, as the WebSocket would carry it.
        await self.messages.put(dict(message))

    async def connect(self, call: Call) -> None:
        self.pc.addTrack(self.camera)
        self.pc.addTrack(Tone())
        if self.offer_only is not None:
            wanted = {f"video/{self.offer_only}".lower(), "video/rtx"}
            codecs = RTCRtpSender.getCapabilities("video").codecs
            video = next(t for t in self.pc.getTransceivers() if t.kind == "video")
            video.setCodecPreferences([c for c in codecs if c.mimeType.lower() in wanted])
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.offered = self.pc.localDescription.sdp
        if self.offer_first is not None:
            self.offered = prefer_video_codec(self.offered, self.offer_first)
        message = parse(json.dumps({"type": "offer", "sdp": self.offered}))
        assert isinstance(message, Offer)
        await call.handle(self.side, message)
        answer = await self.expect("answer")
        await self.pc.setRemoteDescription(RTCSessionDescription(str(answer["sdp"]), "answer"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._sinks.append(asyncio.ensure_future(self._sink(track)))

    async def reconnect(self, call: Call) -> None:
        """Offer again on a fresh peer connection over the same socket, as the page
        does when the server asks it to (`reconnect`)."""
        await self.close()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.camera = NumberedCamera()
        self._sinks = []
        await self.connect(call)

    async def _sink(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    image = frame.to_ndarray(format="bgr24")
                    self.video_frames += 1
                    self.codes.append(read_code(image))
                    self.brightness.append(float(image[CODE_CELL:].mean()))
                else:
                    self.audio_frames += 1

    async def expect(self, kind: str, **fields: object) -> dict[str, object]:
        """The next message of this type with these fields (others are skipped)."""
        async with asyncio.timeout(10):
            while True:
                message = await self.messages.get()
                if message.get("type") == kind and all(
                    message.get(k) == v for k, v in fields.items()
                ):
                    return message

    async def wait_for_frames(self, count: int) -> None:
        start = self.video_frames
        async with asyncio.timeout(15):
            while self.video_frames - start < count:  # noqa: ASYNC110 - counting frames
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.pc.close()
        for sink in self._sinks:
            sink.cancel()
        for sink in self._sinks:
            with contextlib.suppress(asyncio.CancelledError):
                await sink


def watch_rtp(pc: RTCPeerConnection, kind: str) -> list[tuple[int, int, int]]:
    """(SSRC, sequence number, timestamp) of every `kind` packet `pc` receives from
    now on, as it arrives; aiortc goes on handling each packet as usual."""
    receiver = next(t.receiver for t in pc.getTransceivers() if t.kind == kind)
    seen: list[tuple[int, int, int]] = []
    handle = receiver._handle_rtp_packet

    async def watched(packet: RtpPacket, arrival_time_ms: int) -> None:
        seen.append((packet.ssrc, packet.sequence_number, packet.timestamp))
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = watched  # type: ignore[method-assign]
    return seen


@dataclass
class RecordedEvents:
    """The CallEvents a test reads back (the web layer's writes the audit log)."""

    records: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    ended_reasons: list[str] = field(default_factory=list)

    async def record(self, action: str, details: Mapping[str, object]) -> None:
        self.records.append((action, dict(details)))

    async def ended(self, reason: str) -> None:
        self.ended_reasons.append(reason)

    async def segment_started(self, side: Side, index: int, file: Callable[[], Path]) -> None:
        return None  # the file stays where the recorder wrote it

    async def segment_closed(
        self, side: Side, index: int, path: Path, segment: SegmentInfo | None
    ) -> None:
        return None

    def actions(self) -> list[str]:
        return [action for action, _details in self.records]


def ffprobe(path: Path) -> tuple[list[str], float]:
    """The stream types and the duration Debian's ffprobe reports for a file."""
    command = shutil.which("ffprobe")
    assert command, "ffprobe (Debian ffmpeg) is not installed"
    output = subprocess.run(
        [
            command,
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type:format=duration",
            "-of",
            "default=noprint_wrappers=1",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    kinds = sorted(
        line.split("=", 1)[1] for line in output.splitlines() if line.startswith("codec_type=")
    )
    duration = float(output.split("duration=")[1].split()[0])
    return kinds, duration


def seek_lands(path: Path, target: float) -> tuple[float, float]:
    """Seek the video to `target` seconds as a player does: to the key frame before
    it, then decode forward. Returns (where the seek landed, the first frame shown
    at or after the target)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None
        container.seek(int(target / time_base), stream=stream)
        landed: float | None = None
        for picture in container.decode(stream):
            assert picture.pts is not None
            seconds = float(picture.pts * time_base)
            if landed is None:
                landed = seconds
                assert picture.key_frame, "the seek landed on a frame that is not a key frame"
            if seconds >= target - 0.1:
                return landed, seconds
    raise AssertionError(f"no frame at or after {target} s")


def opus_packets(seconds: float) -> list[RtpPacket]:
    """Real Opus, 20 ms a packet, as aiortc's receiver leaves it."""
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "mono", "s16"
    packets: list[RtpPacket] = []
    for n in range(int(seconds * 50)):
        t = (np.arange(960) + n * 960) / 48_000
        wave = (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        tone = av.AudioFrame.from_ndarray(wave[None, :], format="s16", layout="mono")
        tone.sample_rate, tone.pts = 48_000, n * 960
        for encoded in encoder.encode(tone):
            packet = RtpPacket(
                payload_type=111,
                sequence_number=len(packets),
                timestamp=int(encoded.pts or 0) & 0xFFFFFFFF,
                payload=bytes(encoded),
            )
            packet._data = packet.payload  # type: ignore[attr-defined]
            packets.append(packet)
    return packets


def h264_packets(frames: int, *, keyframe_every: int = 250) -> list[RtpPacket]:
    """Real H.264 (Annex B, as aiortc depacketises it), one packet a frame at 15 fps:
    what a browser that offers H.264 only would send."""
    encoder: Any = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.framerate, encoder.time_base = 15, fractions.Fraction(1, 15)
    encoder.gop_size = keyframe_every
    # As a browser encodes for a call: no B-frames, nothing held back.
    encoder.options = {"tune": "zerolatency"}
    packets: list[RtpPacket] = []
    encoded: list[bytes] = []
    for n in range(frames):
        image = np.full((240, 320, 3), n * 4 % 255, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = n
        encoded += [bytes(p) for p in encoder.encode(frame)]
    encoded += [bytes(p) for p in encoder.encode(None)]
    for n, data in enumerate(encoded):
        packet = RtpPacket(
            payload_type=102, sequence_number=n, timestamp=n * STEP, marker=1, payload=data
        )
        packet._data = data  # type: ignore[attr-defined]
        packets.append(packet)
    return packets


def in_time_order(
    audio: list[RtpPacket], video: list[RtpPacket], video_codec: str
) -> list[tuple[str, RtpPacket, str]]:
    timed = [(p.timestamp / 48_000, "audio", p, "opus") for p in audio]
    timed += [(p.timestamp / 90_000, "video", p, video_codec) for p in video]
    return [(kind, packet, codec) for _, kind, packet, codec in sorted(timed, key=_by_time)]


def _by_time(item: tuple[float, str, RtpPacket, str]) -> tuple[float, str]:
    return item[0], item[1]
