"""The recorder's hand-off to its thread: bounded, never blocking the event loop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from aiortc.rtp import RtpPacket

from media.recording import QUEUE_PACKETS, AssembledFrame, SegmentRecorder
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
        recorder.write("video", packet)
    assert stalled.wait(5)
    started = time.monotonic()
    for packet in rest:
        recorder.write("video", packet)
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
