"""One video interview: two participants, each with a peer connection to the server.

Media never flows peer to peer. Each participant's connection receives their camera
and microphone as RTP packets (media.rtp_intercept) and relays them to the other
side's connection (media.rtp_output), never decoding them, on a direct path between
socket and handlers (media.direct_path); every connection is a recording segment.
A participant who drops (reload, network switch, locked phone) may come back with
a fresh connection within the grace period; the other side sees "reconnecting"
meanwhile, and after the grace period the call ends. Everything that happens is
reported to `CallEvents`, which the web layer writes to the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket
from aiortc.sdp import candidate_from_sdp

from media import bitrate_limit, direct_path, rtp_intercept
from media.actions import CallAction
from media.codec_preference import prefer_video_codecs, video_codecs
from media.errors import (
    BadCandidate,
    BadSdp,
    CallEnded,
    NoOffer,
    NothingRecordable,
    NotJoined,
    RecordingNotStored,
    TooManyCandidates,
)
from media.fanout import Fanout
from media.ice import IceSettings
from media.quality import QualitySample
from media.recording import SegmentInfo, SegmentRecorder
from media.rtp_output import IdleTrack, RtpOutput
from media.signalling import MAX_CANDIDATES, Candidate, Leave, Message, Offer, Ping
from media.tap import FrameTap
from media.traffic import Traffic

logger = logging.getLogger(__name__)

KEYFRAME_REQUEST_INTERVAL = 0.5  # seconds between PLIs sent to one source
# What aiortc raises on an offer it cannot use: its SDP parser asserts (payload
# types outside 0-127, a bad m-line, fmtp for an unknown type) and raises
# RuntimeError and IndexError on others; none of it is the server's fault.
UNUSABLE_OFFER = (
    ValueError,
    AttributeError,
    TypeError,
    KeyError,
    IndexError,
    AssertionError,
    RuntimeError,
)
KINDS = ("audio", "video")


class Side(StrEnum):
    APPLICANT = "applicant"
    MANAGER = "manager"

    @property
    def other(self) -> Side:
        return Side.MANAGER if self is Side.APPLICANT else Side.APPLICANT


class CallEvents(Protocol):
    """Where a call reports what happened (interview/: the audit log, the blob
    store that keeps the recordings)."""

    async def record(self, action: str, details: Mapping[str, object]) -> None: ...

    async def ended(self, reason: str) -> None: ...

    async def segment_started(self, side: Side, index: int, file: Callable[[], Path]) -> None:
        """A recording segment is being written to `file()` (its suffix is known
        once its video format is); it may be kept in pieces as it grows, in case
        this node dies."""
        ...

    async def segment_closed(
        self, side: Side, index: int, path: Path, segment: SegmentInfo | None
    ) -> None:
        """The segment at `path` is complete (`segment`) or came to nothing (None).
        Keeps the file where the evidence lives; RecordingNotStored if it cannot."""
        ...


Notify = Callable[[Mapping[str, object]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CallSettings:
    ice: IceSettings
    recordings_dir: Path
    grace: timedelta = timedelta(minutes=2)
    tap_fps: float = 5.0
    quality_interval: float = 3.0
    traffic: Traffic = field(default_factory=Traffic)


class Connection:
    """One participant's peer connection: one recording segment."""

    def __init__(
        self,
        side: Side,
        index: int,
        pc: RTCPeerConnection,
        path: Path,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        traffic: Traffic,
    ) -> None:
        self._spawn = spawn
        self._traffic = traffic
        self.side = side
        self.index = index
        self.pc = pc
        self.fanouts: dict[str, Fanout] = {}
        self.receivers: dict[str, RTCRtpReceiver] = {}
        # What this participant receives of the other side, per kind.
        self.outputs: dict[str, RtpOutput] = {}
        # The video codecs this participant's answer lists: it sends the first
        # and can receive them all.
        self.video_codecs: list[str] = []
        self.recorder = SegmentRecorder(path)
        self._loop = asyncio.get_running_loop()
        self.recorder.on_keyframe_wanted = self._keyframe_wanted
        # What this participant's browser says it can receive of the other's video.
        self.downstream = bitrate_limit.DownstreamBitrate()
        self.bytes_in = {"audio": 0, "video": 0}
        self.closed = False
        self.candidates = 0  # remote candidates added after the offer
        self._last_pli = 0.0
        self._quality_marks: tuple[float, int] | None = None

    def on_packet(self, kind: str, packet: RtpPacket, codec: str) -> None:
        size = len(packet.payload)
        self.bytes_in[kind] += size
        self._traffic.add(size)
        self.recorder.write(kind, packet, codec)

    def request_keyframe(self) -> None:
        """Ask this participant's browser for a key frame (RTCP PLI), at most twice
        a second however many receivers ask."""
        receiver = self.receivers.get("video")
        now = time.monotonic()
        if receiver is None or self.closed or now - self._last_pli < KEYFRAME_REQUEST_INTERVAL:
            return
        self._last_pli = now
        for source in receiver.getSynchronizationSources():
            self._spawn(receiver._send_rtcp_pli(source.source))

    def _keyframe_wanted(self) -> None:
        """From the recorder's thread: its video needs a key frame to stay seekable."""
        # A closed loop means the call, and this recording, are over.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.request_keyframe)

    async def quality(self) -> QualitySample:
        rtt: list[float] = []
        loss: list[float] = []
        for sender in self.pc.getSenders():
            for stats in (await sender.getStats()).values():
                if stats.type == "remote-inbound-rtp":
                    if stats.roundTripTime is not None:
                        rtt.append(stats.roundTripTime * 1000)
                    if stats.fractionLost is not None:
                        loss.append(stats.fractionLost / 256)
        for receiver in self.receivers.values():
            for stats in (await receiver.getStats()).values():
                if stats.type == "inbound-rtp" and stats.packetsReceived:
                    lost = max(stats.packetsLost, 0)
                    loss.append(lost / (lost + stats.packetsReceived))
        now = time.monotonic()
        bitrate = None
        if self._quality_marks is not None:
            then, sent = self._quality_marks
            if now > then:
                bitrate = (self.bytes_in["video"] - sent) * 8 / 1000 / (now - then)
        self._quality_marks = (now, self.bytes_in["video"])
        return QualitySample(max(rtt, default=None), max(loss, default=None), bitrate)

    async def close(self) -> SegmentInfo | None:
        self.closed = True
        for output in self.outputs.values():
            output.detach()
        await self.pc.close()
        return await asyncio.to_thread(self.recorder.close)


@dataclass
class Participant:
    side: Side
    user: str  # who, for TURN credentials and the audit log
    notify: Notify | None = None
    connection: Connection | None = None
    segments: int = 0
    dropped_at: datetime | None = None
    grace_task: asyncio.Task[None] | None = None
    last_quality: QualitySample | None = None

    @property
    def state(self) -> str:
        if self.connection is not None:
            return "connected"
        if self.dropped_at is not None:
            return "reconnecting"
        return "waiting"


class Call:
    def __init__(self, call_id: str, settings: CallSettings, events: CallEvents) -> None:
        self.id = call_id
        self.settings = settings
        self.events = events
        self.started_at = datetime.now(UTC)
        self.participants: dict[Side, Participant] = {}
        self.tap: FrameTap | None = None
        self.ended = False
        self.segments: list[SegmentInfo] = []
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._ending = asyncio.Event()
        self._quality_task = asyncio.ensure_future(self._report_quality())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` from a synchronous callback, keeping a reference until done."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _retire_tap(self) -> None:
        if self.tap is not None:
            self._spawn(self.tap.close())
            self.tap = None

    # Participants come and go -------------------------------------------------

    async def join(self, side: Side, user: str, notify: Notify) -> Participant:
        """A participant's signalling socket opened: the first time, after a drop,
        or from a reloaded page or another device before the old socket was seen
        to close (then the old connection counts as dropped now)."""
        replaced = None
        async with self._lock:
            if self.ended:
                raise CallEnded("this call has ended")
            participant = self.participants.get(side)
            if participant is None:
                participant = Participant(side, user)
                self.participants[side] = participant
                await self.events.record(CallAction.JOINED, {"side": side.value, "user": user})
            elif participant.notify is not None and participant.notify != notify:
                replaced = participant.notify
            participant.notify = notify
        if replaced is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await replaced({"type": "ended", "reason": "joined_elsewhere"})
            if participant.connection is not None:
                await self._dropped(participant, "replaced")
        await self._tell(side, {"type": "peer", "state": self._state_of(side.other)})
        return participant

    async def handle(self, side: Side, message: Message) -> None:
        """Act on one parsed signalling message from `side`."""
        participant = self.participants.get(side)
        if participant is None or self.ended:
            raise NotJoined("join the call first")
        match message:
            case Offer(sdp=sdp):
                await self._connect(participant, sdp)
            case Candidate():
                await self._add_candidate(participant, message)
            case Leave():
                await self._leave(participant)
            case Ping():
                await self._tell(side, {"type": "pong"})

    def socket_closed(self, side: Side, notify: Notify) -> None:
        """The participant's signalling socket went away: a drop, unless it had
        already been replaced by a newer one. The drop runs as the call's own task:
        the socket's handler may be cancelled as its client goes away."""
        participant = self.participants.get(side)
        if participant is None or participant.notify != notify or self.ended:
            return
        participant.notify = None
        self._spawn(self._dropped(participant, "socket_closed"))

    async def end(self, reason: str) -> None:
        async with self._lock:
            if self.ended:
                return
            self.ended = True
        # Told, not cancelled: a round may be writing an audit entry.
        self._ending.set()
        await asyncio.gather(self._quality_task, return_exceptions=True)
        for participant in self.participants.values():
            if participant.grace_task is not None:
                participant.grace_task.cancel()
            await self._close_connection(participant)
        self._retire_tap()
        await asyncio.gather(*self._background, return_exceptions=True)
        duration = (datetime.now(UTC) - self.started_at).total_seconds()
        await self.events.record(
            CallAction.ENDED,
            {
                "reason": reason,
                "duration_seconds": f"{duration:.1f}",
                "segments": len(self.segments),
            },
        )
        # The case leaves the interview before the pages hear of the end: the
        # manager's console reloads on it, and one that still saw the interview
        # would start a new call.
        await self.events.ended(reason)
        for side in self.participants:
            await self._tell(side, {"type": "ended", "reason": reason})

    # Connections ----------------------------------------------------------------

    async def _connect(self, participant: Participant, sdp: str) -> None:
        """A fresh peer connection for this participant (a reconnect replaces the
        old one and starts a new recording segment)."""
        async with self._lock:
            await self._close_connection(participant)
            participant.segments += 1
            now = datetime.now(UTC)
            path = (
                self.settings.recordings_dir
                / self.id
                / (f"{participant.side.value}-{participant.segments:03d}-{now:%Y%m%dT%H%M%SZ}.webm")
            )
            pc = RTCPeerConnection(self.settings.ice.rtc_configuration(participant.user, now=now))
            connection = Connection(
                participant.side, participant.segments, pc, path, self._spawn, self.settings.traffic
            )
            pc.on("track", lambda track: self._on_track(participant, connection, track))
            pc.on(
                "connectionstatechange",
                lambda: self._on_state(participant, connection),
            )
            other = self.participants.get(participant.side.other)
            peer = other.connection if other is not None else None
            preferred = [peer.video_codecs[0]] if peer is not None and peer.video_codecs else []
            offer = prefer_video_codecs(sdp, *preferred, "vp8")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
                for transceiver in pc.getTransceivers():
                    direct_path.install(transceiver.receiver.transport)
                kinds = {t.kind for t in pc.getTransceivers()}
                for kind in KINDS:
                    if kind in kinds:
                        sender = pc.addTrack(IdleTrack(kind))
                        connection.outputs[kind] = RtpOutput(
                            sender,
                            kind,
                            on_codec_mismatch=functools.partial(
                                self._codec_mismatch, participant.side, kind
                            ),
                        )
                        if kind == "video":
                            # The browser's key frame requests go to the other side.
                            sender._send_keyframe = lambda: self._keyframe_from(  # type: ignore[method-assign]
                                participant.side.other
                            )
                            bitrate_limit.watch(sender, connection.downstream)
                await pc.setLocalDescription(await pc.createAnswer())
                connection.video_codecs = video_codecs(pc.localDescription.sdp)
            except Exception as exc:
                # Whatever went wrong, the connection and its recorder's thread go.
                await pc.close()
                await asyncio.to_thread(connection.recorder.close)
                participant.segments -= 1
                if isinstance(exc, UNUSABLE_OFFER):
                    raise BadSdp(f"the offer could not be used ({type(exc).__name__})") from None
                raise
            participant.connection = connection
            await self.events.segment_started(
                participant.side, connection.index, lambda: connection.recorder.path
            )
            if peer is not None:
                for kind, source in peer.fanouts.items():
                    if kind in connection.outputs:
                        connection.outputs[kind].attach(source, peer.request_keyframe)
            gap = None
            if participant.dropped_at is not None:
                gap = (now - participant.dropped_at).total_seconds()
                participant.dropped_at = None
            if participant.grace_task is not None:
                participant.grace_task.cancel()
                participant.grace_task = None
        await self._tell(participant.side, {"type": "answer", "sdp": pc.localDescription.sdp})
        details: dict[str, object] = {"side": participant.side.value, "segment": connection.index}
        if gap is not None:
            details["gap_seconds"] = f"{gap:.1f}"
            await self.events.record(CallAction.REJOINED, details)
        else:
            await self.events.record(CallAction.CONNECTED, details)
        await self._tell(participant.side.other, {"type": "peer", "state": "connected"})
        if peer is not None and peer is self._connection_of(participant.side.other):
            await self._align_video_codec(connection, peer)

    def _on_track(
        self, participant: Participant, connection: Connection, track: MediaStreamTrack
    ) -> None:
        if track.kind not in KINDS or track.kind in connection.fanouts:
            return
        receiver = next(
            t.receiver for t in connection.pc.getTransceivers() if t.receiver.track is track
        )
        kind = track.kind
        fanout = Fanout(kind, on_packet=functools.partial(connection.on_packet, kind))
        rtp_intercept.install(receiver, fanout.deliver)
        if kind == "video":
            bitrate_limit.cap(receiver, lambda: self._downstream_of(participant.side.other))
        connection.receivers[kind] = receiver
        connection.fanouts[kind] = fanout
        other = self.participants.get(participant.side.other)
        if other is not None and other.connection is not None and kind in other.connection.outputs:
            other.connection.outputs[kind].attach(fanout, connection.request_keyframe)
        if participant.side is Side.APPLICANT and kind == "video":
            self._retire_tap()
            self.tap = FrameTap(fps=self.settings.tap_fps)
            connection.recorder.on_video_frame = self.tap.push

    def _connection_of(self, side: Side) -> Connection | None:
        participant = self.participants.get(side)
        return participant.connection if participant is not None else None

    async def _align_video_codec(self, joined: Connection, peer: Connection) -> None:
        """`joined` was answered a video codec `peer` does not send (a browser
        without VP8): if `peer` can send it too, ask it to connect again, and its
        new offer is answered with that codec first (see _connect)."""
        if not joined.video_codecs or not peer.video_codecs:
            return
        codec = joined.video_codecs[0]
        if peer.video_codecs[0] == codec or codec not in peer.video_codecs:
            return
        await self._tell(peer.side, {"type": "reconnect", "reason": "video_codec"})
        await self.events.record(
            CallAction.RECONNECT_REQUESTED,
            {"side": peer.side.value, "reason": "video_codec", "codec": codec},
        )

    def _codec_mismatch(self, side: Side, kind: str, sent: str, accepted: str) -> None:
        logger.warning(
            "the %s sends %s %s; the %s accepted %s", side.other, kind, sent, side, accepted
        )
        self._spawn(
            self.events.record(
                CallAction.CODEC_MISMATCH,
                {"to": side.value, "kind": kind, "sent": sent, "accepted": accepted},
            )
        )

    def _on_state(self, participant: Participant, connection: Connection) -> None:
        if connection.pc.connectionState == "failed" and participant.connection is connection:
            self._spawn(self._dropped(participant, "connection_failed"))

    def _downstream_of(self, side: Side) -> int | None:
        """The video bitrate `side`'s browser can receive now, if it said so lately."""
        participant = self.participants.get(side)
        if participant is None or participant.connection is None:
            return None
        return participant.connection.downstream.current()

    def _keyframe_from(self, side: Side) -> None:
        source = self.participants.get(side)
        if source is not None and source.connection is not None:
            source.connection.request_keyframe()

    async def _add_candidate(self, participant: Participant, message: Candidate) -> None:
        connection = participant.connection
        if connection is None:
            raise NoOffer("send an offer before candidates")
        if not message.candidate:
            return  # end of candidates
        if connection.candidates >= MAX_CANDIDATES:
            raise TooManyCandidates(f"at most {MAX_CANDIDATES} candidates per connection")
        connection.candidates += 1
        text = message.candidate.removeprefix("candidate:")
        try:
            candidate = candidate_from_sdp(text)
        except (ValueError, IndexError):
            raise BadCandidate("the candidate could not be parsed") from None
        candidate.sdpMid = message.sdp_mid
        candidate.sdpMLineIndex = message.sdp_mline_index
        try:
            await connection.pc.addIceCandidate(candidate)
        except (ValueError, KeyError, AssertionError) as exc:
            raise BadCandidate(f"the candidate was refused ({type(exc).__name__})") from None

    async def _close_connection(self, participant: Participant) -> None:
        connection, participant.connection = participant.connection, None
        if connection is None:
            return
        other = self.participants.get(participant.side.other)
        if other is not None and other.connection is not None:
            for kind, fanout in connection.fanouts.items():
                if kind in other.connection.outputs:
                    other.connection.outputs[kind].detach_from(fanout)
        side, index = participant.side, connection.index
        try:
            segment = await connection.close()
            await self.events.segment_closed(side, index, connection.recorder.path, segment)
        except (av.FFmpegError, OSError, NothingRecordable, RecordingNotStored) as exc:
            # The call goes on; the gap in the evidence is itself recorded.
            logger.exception("recording of the %s's segment failed", side.value)
            if not isinstance(exc, RecordingNotStored):
                await self.events.segment_closed(side, index, connection.recorder.path, None)
            await self.events.record(
                CallAction.RECORDING_FAILED,
                {"side": side.value, "segment": index, "error": str(exc)},
            )
            return
        if segment is None:
            return
        self.segments.append(segment)
        await self.events.record(
            CallAction.SEGMENT_RECORDED,
            {
                "side": participant.side.value,
                "segment": connection.index,
                "file": segment.path.name,
                "sha256": segment.sha256,
                "size": segment.size,
                "duration_seconds": f"{segment.duration_seconds:.2f}",
                "started_at": segment.started_at.isoformat(timespec="milliseconds"),
                "video_packets": segment.video_packets,
                "audio_packets": segment.audio_packets,
                "dropped_packets": segment.dropped_packets,
                "unrecorded_video_frames": segment.unrecorded_video_frames,
                "late_frames": segment.late_frames,
                "wall_seconds": f"{segment.wall_seconds:.2f}",
            },
        )

    async def _dropped(self, participant: Participant, why: str) -> None:
        async with self._lock:
            if self.ended or participant.dropped_at is not None:
                return
            participant.dropped_at = datetime.now(UTC)
            await self._close_connection(participant)
            participant.grace_task = asyncio.ensure_future(self._grace(participant))
        await self.events.record(CallAction.DROPPED, {"side": participant.side.value, "why": why})
        await self._tell(participant.side.other, {"type": "peer", "state": "reconnecting"})

    async def _grace(self, participant: Participant) -> None:
        await asyncio.sleep(self.settings.grace.total_seconds())
        if participant.dropped_at is not None and not self.ended:
            participant.grace_task = None
            await self.end(f"{participant.side.value}_did_not_return")

    async def _leave(self, participant: Participant) -> None:
        await self.end(f"{participant.side.value}_left")

    # Telling the pages ----------------------------------------------------------

    def _state_of(self, side: Side) -> str:
        participant = self.participants.get(side)
        return participant.state if participant is not None else "waiting"

    async def tell_all(self, message: Mapping[str, object]) -> None:
        """A message to every participant's page (the identity checks' prompts)."""
        for side in list(self.participants):
            await self._tell(side, message)

    async def _tell(self, side: Side, message: Mapping[str, object]) -> None:
        participant = self.participants.get(side)
        if participant is None or participant.notify is None:
            return
        try:
            await participant.notify(message)
        except (ConnectionError, RuntimeError):
            logger.info("could not reach the %s's page", side.value)

    async def _report_quality(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.quality_interval):
                    await self._ending.wait()
            if self._ending.is_set():
                return
            samples: dict[Side, dict[str, Any]] = {}
            for side, participant in list(self.participants.items()):
                if participant.connection is not None:
                    previous = participant.last_quality
                    participant.last_quality = await participant.connection.quality()
                    samples[side] = participant.last_quality.as_json()
                    if previous is None or previous.badge() != participant.last_quality.badge():
                        # The review's quality history: a change of badge, not every sample.
                        await self.events.record(
                            CallAction.QUALITY_CHANGED,
                            {"side": side.value, **participant.last_quality.as_audit()},
                        )
            for side in samples:
                await self._tell(
                    side,
                    {"type": "quality", "self": samples[side], "peer": samples.get(side.other)},
                )
