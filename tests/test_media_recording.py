"""The recorder: its hand-off to its thread (bounded, never blocking the event loop),
the container each codec goes into, and what it writes when the video gives it
nothing to start from."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import pytest
from aiortc.rtp import RtpPacket

from media.errors import NothingRecordable
from media.recording import (
    KEYFRAME_SECONDS,
    QUEUE_PACKETS,
    AssembledFrame,
    MediaClock,
    SegmentRecorder,
)
from tests.media_support import ffprobe, h264_packets, in_time_order, opus_packets, seek_lands
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


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_a_segment_carries_its_duration_and_cues_and_seeks(tmp_path: Path, codec: str) -> None:
    """What Chromium's player and the review page need: a duration, and a seek index
    naming the key frames, so a seek starts at the key frame before the point asked
    for (both players of the review seek together on this)."""
    seconds = 12
    video = (
        rtp_packets(layered_clip(seconds * 15, keyframe_every=30))
        if codec == "vp8"
        else h264_packets(seconds * 15, keyframe_every=30)
    )
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    for kind, packet, name in in_time_order(opus_packets(seconds), video, codec):
        recorder.write(kind, packet, name)
    info = recorder.close()
    assert info is not None
    assert abs(ffprobe(info.path)[1] - seconds) < 1
    assert abs(info.duration_seconds - seconds) < 1
    landed, shown = seek_lands(info.path, seconds / 2)
    assert seconds / 2 - 2.5 <= landed <= seconds / 2, landed  # key frames every 2 s
    assert abs(shown - seconds / 2) < 1


def test_the_recorder_asks_for_key_frames_a_browser_would_not_send(tmp_path: Path) -> None:
    """A browser sends a key frame when it starts and when asked, so an unasked
    segment has one and cannot be sought: the recorder asks every KEYFRAME_SECONDS."""
    seconds = 3 * KEYFRAME_SECONDS
    video = rtp_packets(layered_clip(seconds * 15, keyframe_every=10_000))
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    asked: list[float] = []
    recorder.on_keyframe_wanted = lambda: asked.append(time.monotonic())
    for packet in video:
        recorder.write("video", packet, "vp8")
    info = recorder.close()
    assert info is not None
    # The first ask at KEYFRAME_SECONDS, then once a second while none comes.
    expected = seconds - KEYFRAME_SECONDS
    assert expected - 1 <= len(asked) <= expected + 1, len(asked)


def test_late_packets_neither_stretch_the_segment_nor_break_its_order(tmp_path: Path) -> None:
    """Packets that arrive again long after their stream moved on (a retransmission
    or a network that replays), as after a reconnect: the file keeps its true length
    and the late frames are counted, not muxed."""
    seconds = 8
    audio = opus_packets(seconds)
    video = rtp_packets(layered_clip(seconds * 15))
    items = in_time_order(audio, video, "vp8")
    late_audio = [(k, p, c) for k, p, c in items if k == "audio"][10:22]
    halfway = len(items) // 2
    items = items[:halfway] + late_audio + items[halfway:] + late_audio
    recorder = SegmentRecorder(tmp_path / "segment.webm")
    for kind, packet, codec in items:
        recorder.write(kind, packet, codec)
    info = recorder.close()
    assert info is not None
    assert abs(ffprobe(info.path)[1] - seconds) < 1
    assert abs(info.duration_seconds - seconds) < 1
    assert info.late_frames >= len(late_audio)
    codecs, _ = streams_in(info.path)
    assert codecs == ["opus", "vp8"]


def test_the_media_clock_unwraps_both_ways() -> None:
    clock = MediaClock()
    top = (1 << 32) - 3000
    assert [clock.map(t) for t in (top, top + 1000, 500, 200, 4000)] == [
        0,
        1000,
        3500,
        3200,
        7000,
    ]
