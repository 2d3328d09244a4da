"""A participant's media written to a file as it arrives, without re-encoding.

One file per participant per connection segment: a reconnect starts a new segment,
so a gap is visible as two files, not hidden inside one. The recorder gets the RTP
packets the server received (media.rtp_intercept), reassembles the encoded frames
in a thread of its own (aiortc's jitter buffer: reordering, retransmissions) and
muxes them as they are: VP8 and Opus into WebM, H.264 and Opus into Matroska
(media.video_format); the wall-clock start is the container's creation_time. A
participant whose video never gives a key frame (no camera, or a camera that
starts late) is recorded without video, and the frames left out are counted: a
gap in the evidence is never silent. The thread is fed by
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
from aiortc.rtp import RtpPacket

from media.errors import NothingRecordable
from media.keyframes import is_keyframe
from media.temporal_layers import TemporalLayer, vp8_temporal_layer
from media.video_format import CONTAINERS, VideoFormat, video_format

QUEUE_PACKETS = 2048
# Packets go to the muxer thread in batches: one hand-off (a lock and a thread
# wake-up) per batch instead of per packet. A batch leaves when full or this old.
BATCH_PACKETS = 32
BATCH_SECONDS = 0.25

CLOCKS = {"video": 90_000, "audio": 48_000}
# How much audio (media time) waits for the first video key frame before the
# segment is written without video.
AUDIO_WAITS_SECONDS = 10
_TIME_BASES = {kind: fractions.Fraction(1, clock) for kind, clock in CLOCKS.items()}
_HALF_WRAP = 1 << 31  # RTP timestamps compare modulo 2**32
# A recorded video gets a key frame at least this often (media time): a player
# seeks to the key frame before the point asked for and decodes from there, so
# this bounds how far back it starts. Browsers otherwise send one only when asked.
KEYFRAME_SECONDS = 4
Item = tuple[str, RtpPacket, str]  # kind, packet, codec
Frame = tuple[str, bytes, int]  # kind, encoded frame, pts from 0 in the kind's clock


class AssembledFrame(NamedTuple):
    data: bytes
    pts: int  # from 0, in the stream's clock
    layer: TemporalLayer | None  # VP8's temporal layer, when the stream has layers
    codec: str


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
    # those in a codec other than the file's, and all of them when the segment
    # holds audio only (no key frame came).
    unrecorded_video_frames: int
    # Frames older than one already in the file (a packet delivered late, after
    # its stream moved on): left out, since a file's timestamps only go forward.
    late_frames: int = 0
    # Wall-clock time from the first packet to the last: what the file's
    # duration should come to.
    wall_seconds: float = 0.0


class MediaClock:
    """RTP timestamps as a count from the stream's first one, unwrapped modulo 2**32
    with each step taken as the shorter way round: a frame a little older than the
    last one (a late or repeated packet) maps a little earlier, not 2**32 ticks
    later (aiortc's TimestampMapper treats every step back as a wrap, which once
    gave a two-minute segment a duration of 99 hours)."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._count = 0

    def map(self, timestamp: int) -> int:
        if self._last is not None:
            step = (timestamp - self._last) & 0xFFFFFFFF
            self._count += step - (1 << 32) if step >= _HALF_WRAP else step
        self._last = timestamp
        return self._count


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
        self._timestamps = MediaClock()
        self._layers: dict[int, TemporalLayer | None] = {}  # by RTP timestamp

    def add(self, packet: RtpPacket, codec: str) -> AssembledFrame | None:
        if self._video:
            self._layers[packet.timestamp] = (
                vp8_temporal_layer(packet.payload) if codec == "vp8" else None
            )
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
        return AssembledFrame(frame.data, self._timestamps.map(frame.timestamp), layer, codec)


class SegmentRecorder:
    """Call `write(kind, packet, codec)` from the event loop; `close()` returns the
    segment. Its file is `path` with the suffix of the container the video needs."""

    def __init__(self, path: Path, *, started_at: datetime | None = None) -> None:
        self.path = path
        self.started_at = started_at or datetime.now(UTC)
        self.on_video_frame: VideoListener | None = None
        # Called from the recorder's thread when the recorded video has gone
        # KEYFRAME_SECONDS without a key frame: ask the browser for one.
        self.on_keyframe_wanted: Callable[[], None] | None = None
        self._last_key: int | None = None  # video pts of the newest key frame
        self._keyframe_asked: int | None = None  # video pts when one was last asked for
        # A SimpleQueue (bounded by hand below): its put is a fraction of
        # Queue.put's locks and condition, and it runs on the event loop.
        self._queue: queue.SimpleQueue[list[Item] | None] = queue.SimpleQueue()
        self._batch: list[Item] = []
        self._batch_started = time.monotonic()
        self._first_write: float | None = None
        self._last_write = 0.0
        self._dropped = 0
        self._unrecorded_video = 0
        self._late = 0
        self._muxed: dict[str, int] = {}  # per kind, the newest pts in the file
        self._counts = {"video": 0, "audio": 0}
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._mux, name=f"recorder-{path.name}")
        self._thread.start()

    def write(self, kind: str, packet: RtpPacket, codec: str) -> None:
        now = time.monotonic()
        if self._first_write is None:
            self._first_write = now
        self._last_write = now
        if not self._batch:
            self._batch_started = now
        self._batch.append((kind, packet, codec))
        if len(self._batch) >= BATCH_PACKETS or now - self._batch_started >= BATCH_SECONDS:
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

        recorded_codec = ""

        def start(video: VideoFormat | None) -> None:
            nonlocal container, streams, recorded_codec
            recorded_codec = video.codec if video is not None else ""
            container, streams = self._open(video)
            for early in waiting_audio:
                self._mux_one(container, streams, origin, *early, "opus")
            waiting_audio.clear()

        try:
            while (batch := self._queue.get()) is not None:
                for kind, packet, codec in batch:
                    assembled = assemblers[kind].add(packet, codec)
                    if assembled is None:
                        continue
                    data, pts = assembled.data, assembled.pts
                    if kind == "video" and self.on_video_frame is not None:
                        self.on_video_frame(assembled)
                    if container is None:
                        # The video stream's format comes from the first key
                        # frame; audio waits for it, but not for ever: a
                        # participant without a camera is still heard in the
                        # recording.
                        if kind == "video" and (found := video_format(codec, data)):
                            start(found)
                        elif kind == "audio" and (
                            not waiting_audio
                            or pts - waiting_audio[0][2] < AUDIO_WAITS_SECONDS * CLOCKS["audio"]
                        ):
                            waiting_audio.append((kind, data, pts))
                            continue
                        elif kind == "audio":
                            start(None)
                    if kind not in streams or (kind == "video" and codec != recorded_codec):
                        self._unrecorded_video += 1
                        continue
                    self._mux_one(container, streams, origin, kind, data, pts, codec)
            if container is None and waiting_audio:
                start(None)
        except Exception as exc:  # recorded and re-raised by close()
            self._error = exc
            while self._queue.get() is not None:
                pass
        finally:
            if container is not None:
                container.close()

    def _open(self, video_format: VideoFormat | None) -> tuple[Any, dict[str, Any]]:
        """The file, with a stream for the video (none without it) and an Opus
        stream, in the container the video needs (WebM without video)."""
        kind = CONTAINERS[video_format.codec if video_format else "vp8"]
        self.path = self.path.with_suffix(kind.suffix)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format=kind.format)
        container.metadata["creation_time"] = self.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        streams: dict[str, Any] = {}
        if video_format is not None:
            video: Any = container.add_stream(video_format.codec)
            video.width, video.height = video_format.width, video_format.height
            video.time_base = _TIME_BASES["video"]
            if video_format.extradata:
                video.codec_context.extradata = video_format.extradata
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
        codec: str,
    ) -> None:
        # Each stream starts at zero in the file; creation_time anchors it in time.
        start = origin.setdefault(kind, pts)
        relative = pts - start
        if relative < 0 or relative <= self._muxed.get(kind, -1):
            self._late += 1
            return
        key = kind == "audio" or is_keyframe(codec, data)
        if kind == "video":
            self._want_keyframes(pts, key)
        packet = av.Packet(data)
        packet.pts = packet.dts = relative
        packet.time_base = _TIME_BASES[kind]
        packet.stream = streams[kind]
        # The flag makes the muxer mark the block a key frame and index it in the
        # Cues written at close: without them a player cannot seek the file.
        packet.is_keyframe = key
        container.mux(packet)
        self._muxed[kind] = relative
        self._counts[kind] += 1
        seconds = (pts - start) / CLOCKS[kind]
        self._first.setdefault(kind, seconds)
        self._last[kind] = seconds

    def _want_keyframes(self, pts: int, key: bool) -> None:
        clock = CLOCKS["video"]
        if key or self._last_key is None:
            self._last_key = pts
            self._keyframe_asked = None
            return
        if pts - self._last_key < KEYFRAME_SECONDS * clock:
            return
        # Asked again each second until one comes (a PLI can be lost).
        if self._keyframe_asked is not None and pts - self._keyframe_asked < clock:
            return
        self._keyframe_asked = pts
        if self.on_keyframe_wanted is not None:
            self.on_keyframe_wanted()

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
                    " recorded: no key frame in a codec recorded, and no audio"
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
            self._late,
            self._last_write - (self._first_write or self._last_write),
        )
