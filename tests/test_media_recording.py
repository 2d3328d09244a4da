"""The recorder: its hand-off to its thread (bounded, never blocking the event loop),
the container each codec goes into, and what it writes when the video gives it
nothing to start from."""

from __future__ import annotations

import fractions
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from media.recording import QUEUE_PACKETS, AssembledFrame, NothingRecordable, SegmentRecorder
from tests.vp8_support import STEP, layered_clip, rtp_packets


def test_a_stalled_recorder_drops_packets_and_never_blocks_the_writer(tmp_path: Path) -> None:
    clip = layered_clip(32)
    packets: list[RtpPacket] = []
    while len(packets) < 3 * QUEUE_PACKETS:
        packets += rtp_packets(
            clip, chunk=200, first_frame=len(packets) // 1000 * 32, first_sequence=len(packets)
        )
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    release, stalled = threading.Event(), threading.Event()
    seen: list[AssembledFrame] = []

    def slow_listener(frame: AssembledFrame) -> None:
        # A disk (or a listener) that stops: the recorder's thread waits here.
        stalled.set()
        release.wait(10)
        seen.append(frame)

    recorder.on_video_frame = slow_listener
    # The first few frames, then the rest once the thread has stalled on them.
    split = next(i for i, packet in enumerate(packets) if packet.timestamp >= 3 * STEP)
    first, rest = packets[:split], packets[split:]
    for packet in first:
        recorder.write("video", packet, "vp8")
    assert stalled.wait(5)
    started = time.monotonic()
    for packet in rest:
        recorder.write("video", packet, "vp8")
    writing = time.monotonic() - started
    release.set()
    info = recorder.close()
    assert info is not None
    # Packets beyond the bound are dropped and counted; those kept are recorded.
    assert 0 < info.dropped_packets < len(rest)
    assert info.video_packets > 0 and seen
    assert info.path.stat().st_size > 0
    # The writer only appended: nothing it did waited for the stalled thread.
    assert writing < 5, writing


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


def h264_packets(frames: int) -> list[RtpPacket]:
    """Real H.264 (Annex B, as aiortc depacketises it), one packet a frame at 15 fps:
    what a browser that offers H.264 only would send."""
    encoder: Any = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.framerate, encoder.time_base = 15, fractions.Fraction(1, 15)
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


def without_keyframes(packets: list[RtpPacket]) -> list[RtpPacket]:
    """VP8 with its key frames left out (layered_clip has one every 32 frames): a
    camera whose first key frame never comes. Numbered without gaps: nothing was lost."""
    kept = [p for p in packets if p.timestamp % (32 * STEP)]
    for sequence, packet in enumerate(kept):
        packet.sequence_number = sequence
    return kept


def streams_in(path: Path) -> tuple[list[str], float]:
    with av.open(str(path)) as container:
        codecs = sorted(s.codec_context.name for s in container.streams)
        return codecs, (container.duration or 0) / 1_000_000


def test_h264_goes_into_matroska_with_the_audio_and_plays_back(tmp_path: Path) -> None:
    """A browser that sends H.264 (which WebM cannot hold): the same segment, in
    Matroska, frames as they came."""
    video = h264_packets(4 * 15)
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    for kind, packet, codec in in_time_order(opus_packets(4), video, "h264"):
        recorder.write(kind, packet, codec)
    info = recorder.close()
    assert info is not None
    assert info.path == tmp_path / "segment.mkv" and not (tmp_path / "segment.webm").exists()
    codecs, duration = streams_in(info.path)
    assert codecs == ["h264", "opus"]
    assert abs(duration - 4) < 0.5, duration
    assert info.unrecorded_video_frames == 0
    with av.open(str(info.path)) as container:
        pictures = list(container.decode(video=0))
    # Every frame decodes (the jitter buffer holds back the last one).
    assert len(video) - 1 <= len(pictures) <= len(video)
    assert (pictures[0].width, pictures[0].height) == (320, 240)


@pytest.mark.parametrize("seconds", [4, 14])
def test_video_without_a_key_frame_is_counted_and_the_audio_is_still_recorded(
    tmp_path: Path, seconds: int
) -> None:
    """Video that never gives a key frame to start from: the voice is in the file,
    whether the call is shorter or longer than audio waits for a key frame."""
    video = without_keyframes(rtp_packets(layered_clip(seconds * 15)))
    frames = len({p.timestamp for p in video})
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    for kind, packet, codec in in_time_order(opus_packets(seconds), video, "vp8"):
        recorder.write(kind, packet, codec)
    info = recorder.close()
    assert info is not None
    codecs, duration = streams_in(info.path)
    assert codecs == ["opus"]
    assert abs(duration - seconds) < 0.5, duration
    assert info.video_packets == 0 and info.audio_packets >= seconds * 50 - 5
    # Every assembled frame is counted (the jitter buffer holds back the last one).
    assert frames - 2 <= info.unrecorded_video_frames <= frames


def test_vp8_arriving_late_still_gets_the_audio_that_waited(tmp_path: Path) -> None:
    clip = layered_clip(32)
    # Video starts 3 s into the audio: the audio waits for its key frame and is kept.
    video = rtp_packets(clip, first_frame=45)
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    for kind, packet, codec in in_time_order(opus_packets(5), video, "vp8"):
        recorder.write(kind, packet, codec)
    info = recorder.close()
    assert info is not None
    codecs, duration = streams_in(info.path)
    assert codecs == ["opus", "vp8"]
    assert abs(duration - 5) < 0.5, duration
    assert info.video_packets >= 30 and info.unrecorded_video_frames == 0


def test_video_with_nothing_recordable_is_an_error_not_a_silent_gap(tmp_path: Path) -> None:
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    for packet in without_keyframes(rtp_packets(layered_clip(30))):
        recorder.write("video", packet, "vp8")
    with pytest.raises(NothingRecordable, match="video frames arrived"):
        recorder.close()
    assert not (tmp_path / "segment.webm").exists()
    # No media at all is simply no segment.
    assert SegmentRecorder(tmp_path / "empty.webm").close() is None
