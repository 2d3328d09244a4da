"""A participant's media written to a WebM file as it arrives, without re-encoding.

One file per participant per connection segment: a reconnect starts a new segment,
so a gap is visible as two files, not hidden inside one. The recorder gets the RTP
packets the server received (media.rtp_intercept), reassembles the encoded frames
in a thread of its own (aiortc's jitter buffer: reordering, retransmissions) and
muxes them as they are (VP8 + Opus: what WebM holds); the wall-clock start is the
container's creation_time. A participant whose video never gives a VP8 key frame
(no camera, or a codec WebM cannot hold) is recorded without video, and the frames
left out are counted: a gap in the evidence is never silent. The thread is fed by
a bounded queue, so a slow disk never stalls the event loop or the forwarding path.
The assembled video frames are also offered to a listener (the KYC frame tap) from
that thread.
"""

from __future__ import annotations

import fractions
import hashlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import av
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpreceiver import TimestampMapper
from aiortc.rtp import RtpPacket

from media.temporal_layers import TemporalLayer, vp8_temporal_layer

QUEUE_PACKETS = 2048
# Packets go to the muxer thread in batches: one hand-off (a lock and a thread
# wake-up) per batch instead of per packet. A batch leaves when full or this old.
BATCH_PACKETS = 32
BATCH_SECONDS = 0.25

CLOCKS = {"video": 90_000, "audio": 48_000}
# How much audio (media time) waits for the first VP8 key frame before the segment
# is written without video.
AUDIO_WAITS_SECONDS = 10
_TIME_BASES = {kind: fractions.Fraction(1, clock) for kind, clock in CLOCKS.items()}
_HALF_WRAP = 1 << 31  # RTP timestamps compare modulo 2**32
Item = tuple[str, RtpPacket]
Frame = tuple[str, bytes, int]  # kind, encoded frame, pts from 0 in the kind's clock


class AssembledFrame(NamedTuple):
    data: bytes
    pts: int  # from 0, in the stream's clock
    layer: TemporalLayer | None  # VP8's temporal layer, when the stream has layers


# Called from the recorder's thread with each assembled video frame.
VideoListener = Callable[[AssembledFrame], None]


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    path: Path
    started_at: datetime
    ended_at: datetime
    duration_seconds: float  # from the media timestamps, not the wall clock
    size: int
    sha256: str
    video_packets: int
    audio_packets: int
    dropped_packets: int
    # Assembled video frames not in the file: those before the first key frame,
    # and all of them when the segment holds audio only (no VP8 key frame came).
    unrecorded_video_frames: int


class NothingRecordable(RuntimeError):
    """Video arrived, but no VP8 key frame and no audio: there is no file."""


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386 section 9.1)."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class FrameAssembler:
    """Encoded frames out of one stream's RTP packets, as aiortc's receiver would
    assemble them for its decoder (same jitter buffer sizes), with timestamps
    counted from the stream's first packet and, for VP8 video, the temporal layer
    each frame's packets named."""

    def __init__(self, kind: str) -> None:
        self._video = kind == "video"
        self._buffer = (
            JitterBuffer(capacity=512, is_video=True)
            if self._video
            else JitterBuffer(16, prefetch=4)
        )
        self._timestamps = TimestampMapper()
        self._layers: dict[int, TemporalLayer | None] = {}  # by RTP timestamp

    def add(self, packet: RtpPacket) -> AssembledFrame | None:
        if self._video:
            self._layers[packet.timestamp] = vp8_temporal_layer(packet.payload)
        _, frame = self._buffer.add(packet)
        if frame is None:
            return None
        layer = self._layers.pop(frame.timestamp, None)
        if self._layers:
            # Frames the jitter buffer gave up on (older than this one) leave
            # their entries behind.
            self._layers = {
                t: known
                for t, known in self._layers.items()
                if (t - frame.timestamp) & 0xFFFFFFFF < _HALF_WRAP
            }
        return AssembledFrame(frame.data, self._timestamps.map(frame.timestamp), layer)


class SegmentRecorder:
    """Call `write(kind, packet)` from the event loop; `close()` returns the segment."""

    def __init__(self, path: Path, *, started_at: datetime | None = None) -> None:
        self.path = path
        self.started_at = started_at or datetime.now(UTC)
        self.on_video_frame: VideoListener | None = None
        # A SimpleQueue (bounded by hand below): its put is a fraction of
        # Queue.put's locks and condition, and it runs on the event loop.
        self._queue: queue.SimpleQueue[list[Item] | None] = queue.SimpleQueue()
        self._batch: list[Item] = []
        self._batch_started = time.monotonic()
        self._dropped = 0
        self._unrecorded_video = 0
        self._counts = {"video": 0, "audio": 0}
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._mux, name=f"recorder-{path.name}")
        self._thread.start()

    def write(self, kind: str, packet: RtpPacket) -> None:
        if not self._batch:
            self._batch_started = time.monotonic()
        self._batch.append((kind, packet))
        if (
            len(self._batch) >= BATCH_PACKETS
            or time.monotonic() - self._batch_started >= BATCH_SECONDS
        ):
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        if self._queue.qsize() < QUEUE_PACKETS // BATCH_PACKETS:
            self._queue.put_nowait(self._batch)
        else:
            self._dropped += len(self._batch)
        self._batch = []

    def _mux(self) -> None:
        container: Any = None
        streams: dict[str, Any] = {}
        origin: dict[str, int] = {}
        waiting_audio: list[Frame] = []
        assemblers = {kind: FrameAssembler(kind) for kind in CLOCKS}

        def start(keyframe: bytes | None) -> None:
            nonlocal container, streams
            container, streams = self._open(keyframe)
            for early in waiting_audio:
                self._mux_one(container, streams, origin, *early)
            waiting_audio.clear()

        try:
            while (batch := self._queue.get()) is not None:
                for kind, packet in batch:
                    assembled = assemblers[kind].add(packet)
                    if assembled is None:
                        continue
                    data, pts, _ = assembled
                    if kind == "video" and self.on_video_frame is not None:
                        self.on_video_frame(assembled)
                    if container is None:
                        # The video stream's size comes from the first key frame;
                        # audio waits for it, but not for ever: a participant
                        # without a camera, or sending a codec WebM cannot hold,
                        # is still heard in the recording.
                        if kind == "video" and vp8_size(data) is not None:
                            start(data)
                        elif kind == "audio" and (
                            not waiting_audio
                            or pts - waiting_audio[0][2] < AUDIO_WAITS_SECONDS * CLOCKS["audio"]
                        ):
                            waiting_audio.append((kind, data, pts))
                            continue
                        elif kind == "audio":
                            start(None)
                    if kind not in streams:
                        self._unrecorded_video += 1
                        continue
                    self._mux_one(container, streams, origin, kind, data, pts)
            if container is None and waiting_audio:
                start(None)
        except Exception as exc:  # recorded and re-raised by close()
            self._error = exc
            while self._queue.get() is not None:
                pass
        finally:
            if container is not None:
                container.close()

    def _open(self, keyframe: bytes | None) -> tuple[Any, dict[str, Any]]:
        """The file, with a VP8 stream sized by `keyframe` (none without one) and
        an Opus stream."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="webm")
        container.metadata["creation_time"] = self.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        streams: dict[str, Any] = {}
        if keyframe is not None:
            size = vp8_size(keyframe)
            assert size is not None
            video = container.add_stream("vp8")
            video.width, video.height = size
            video.time_base = _TIME_BASES["video"]
            streams["video"] = video
        audio = container.add_stream("opus", rate=48_000)
        audio.time_base = _TIME_BASES["audio"]
        streams["audio"] = audio
        return container, streams

    def _mux_one(
        self,
        container: Any,
        streams: dict[str, Any],
        origin: dict[str, int],
        kind: str,
        data: bytes,
        pts: int,
    ) -> None:
        # Each stream starts at zero in the file; creation_time anchors it in time.
        start = origin.setdefault(kind, pts)
        packet = av.Packet(data)
        packet.pts = packet.dts = pts - start
        packet.time_base = _TIME_BASES[kind]
        packet.stream = streams[kind]
        container.mux(packet)
        self._counts[kind] += 1
        seconds = (pts - start) / CLOCKS[kind]
        self._first.setdefault(kind, seconds)
        self._last[kind] = seconds

    def close(self) -> SegmentInfo | None:
        """Finish the file; None when no media arrived (no file written).
        Raises NothingRecordable when video arrived and nothing could be written."""
        self._flush()
        self._queue.put(None)
        self._thread.join()
        ended_at = datetime.now(UTC)
        if self._error is not None:
            raise self._error
        if not self.path.exists():
            if self._unrecorded_video:
                raise NothingRecordable(
                    f"{self._unrecorded_video} video frames arrived and none could be"
                    " recorded: no VP8 key frame (another codec?) and no audio"
                )
            return None
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        duration = max((self._last[k] for k in self._last), default=0.0)
        return SegmentInfo(
            self.path,
            self.started_at,
            ended_at,
            duration,
            self.path.stat().st_size,
            digest.hexdigest(),
            self._counts["video"],
            self._counts["audio"],
            self._dropped,
            self._unrecorded_video,
        )
