"""Calls through the server with aiortc clients on loopback: forwarding without
re-encoding, recording, reconnection, the frame tap and the call's events."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import uvloop

from config.event_loop import new_event_loop
from media.call import Call, CallSettings, Side
from media.ice import IceSettings
from media.recording import KEYFRAME_SECONDS
from tests.media_support import Client, RecordedEvents, ffprobe, seek_lands, watch_rtp


@pytest.fixture
async def call(tmp_path: Path) -> AsyncIterator[tuple[Call, RecordedEvents]]:
    events = RecordedEvents()
    settings = CallSettings(
        IceSettings(), tmp_path / "recordings", grace=timedelta(seconds=3), quality_interval=1.0
    )
    running = Call("app-1", settings, events)
    yield running, events
    await running.end("test_finished")


async def joined(call: Call, side: Side) -> Client:
    client = Client(side)
    await call.join(side, f"{side.value}-user", client.notify)
    await client.connect(call)
    return client


def streams_of(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        return {
            "kinds": sorted(s.type for s in container.streams),
            "codecs": sorted(s.codec_context.name for s in container.streams),
            "seconds": (container.duration or 0) / 1_000_000,
            "creation_time": container.metadata.get("creation_time"),
            "frames": sum(1 for _ in container.decode(video=0)) if container.streams.video else 0,
        }


async def test_media_flows_both_ways_and_each_side_is_recorded(
    call: tuple[Call, RecordedEvents],
) -> None:
    running, events = call
    applicant = await joined(running, Side.APPLICANT)
    manager = await joined(running, Side.MANAGER)
    await manager.wait_for_frames(30)
    await applicant.wait_for_frames(30)
    await asyncio.sleep(2)
    # Moving, non-black pictures: the codes count up and the gradient is visible.
    for client in (manager, applicant):
        assert client.audio_frames > 50
        assert np.mean(client.brightness[-10:]) > 60
        assert len(set(client.codes)) > 20
        assert client.codes[-1] > client.codes[0]
    await running.end("manager_ended")
    await applicant.close()
    await manager.close()

    recorded = [d for a, d in events.records if a == "call.segment_recorded"]
    assert sorted(str(d["side"]) for d in recorded) == ["applicant", "manager"]
    for segment in running.segments:
        info = streams_of(segment.path)
        assert info["kinds"] == ["audio", "video"]
        assert info["codecs"] == ["opus", "vp8"]
        assert info["creation_time"]
        assert info["frames"] > 60
        assert abs(info["seconds"] - segment.duration_seconds) < 1.0
        assert segment.sha256 in {d["sha256"] for d in recorded}
    assert events.actions()[-1] == "call.ended"
    assert events.ended_reasons == ["manager_ended"]


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe (Debian ffmpeg) not installed")
async def test_ffprobe_sees_both_streams_and_the_calls_duration(
    call: tuple[Call, RecordedEvents],
) -> None:
    running, _events = call
    loop = asyncio.get_running_loop()
    applicant = await joined(running, Side.APPLICANT)
    manager = await joined(running, Side.MANAGER)
    await manager.wait_for_frames(10)
    started = loop.time()
    await asyncio.sleep(4)
    await running.end("manager_ended")
    call_seconds = loop.time() - started
    await applicant.close()
    await manager.close()
    for segment in running.segments:
        kinds, duration = await asyncio.to_thread(ffprobe, segment.path)
        assert kinds == ["audio", "video"]
        # The segment spans the whole connection, a little more than the timed part.
        assert call_seconds - 1 < duration < call_seconds + 4


async def test_a_dropped_participant_rejoins_and_the_gap_is_recorded(
    call: tuple[Call, RecordedEvents],
) -> None:
    running, events = call
    applicant = await joined(running, Side.APPLICANT)
    manager = await joined(running, Side.MANAGER)
    await manager.wait_for_frames(15)
    received = watch_rtp(manager.pc, "video")

    running.socket_closed(Side.APPLICANT, applicant.notify)
    await applicant.close()
    await manager.expect("peer", state="reconnecting")
    await asyncio.sleep(0.5)

    again = Client(Side.APPLICANT)
    await running.join(Side.APPLICANT, "applicant-user", again.notify)
    await again.connect(running)
    await manager.expect("peer", state="connected")
    await manager.wait_for_frames(15)
    await again.wait_for_frames(15)
    assert not running.ended
    # The manager's browser saw one continuous stream across the applicant's new
    # connection (which started its own, random, sequence numbers and timestamps).
    assert len({ssrc for ssrc, _, _ in received}) == 1
    sequence_steps = [(b - a) & 0xFFFF for (_, a, _), (_, b, _) in itertools.pairwise(received)]
    timestamp_steps = [
        (b - a) & 0xFFFFFFFF for (_, _, a), (_, _, b) in itertools.pairwise(received)
    ]
    assert max(sequence_steps) <= 3 and min(sequence_steps) >= 1
    assert max(timestamp_steps) <= 9000  # never more than a few frames' worth
    rejoined = [d for a, d in events.records if a == "call.rejoined"]
    assert len(rejoined) == 1 and float(str(rejoined[0]["gap_seconds"])) >= 0.5
    applicant_segments = [
        d for a, d in events.records if a == "call.segment_recorded" and d["side"] == "applicant"
    ]
    assert len(applicant_segments) == 1  # the first one, closed at the drop

    # Long enough after the reconnect for the recorder to ask for key frames
    # (aiortc's encoder, like a browser, sends one only when asked).
    await asyncio.sleep(2 * KEYFRAME_SECONDS + 1)
    await running.end("manager_ended")
    await again.close()
    await manager.close()
    recorded = [d for a, d in events.records if a == "call.segment_recorded"]
    assert len(recorded) == 3
    for details in recorded:
        path = running.settings.recordings_dir / running.id / str(details["file"])
        _kinds, duration = await asyncio.to_thread(ffprobe, path)
        wall = float(str(details["wall_seconds"]))
        assert abs(duration - wall) < 1, (details, duration)
        middle = duration / 2
        landed, shown = await asyncio.to_thread(seek_lands, path, middle)
        assert middle - KEYFRAME_SECONDS - 1 <= landed <= middle, (details, landed)
        assert abs(shown - middle) < 1, (details, shown)


async def test_the_call_ends_when_the_grace_period_passes(
    call: tuple[Call, RecordedEvents],
) -> None:
    running, events = call
    applicant = await joined(running, Side.APPLICANT)
    manager = await joined(running, Side.MANAGER)
    await manager.wait_for_frames(5)
    running.socket_closed(Side.APPLICANT, applicant.notify)
    await applicant.close()
    await manager.expect("ended", reason="applicant_did_not_return")
    assert running.ended
    assert events.ended_reasons == ["applicant_did_not_return"]
    await manager.close()


async def test_the_frame_tap_offers_the_applicants_video_at_its_rate(
    call: tuple[Call, RecordedEvents],
) -> None:
    running, _events = call
    applicant = await joined(running, Side.APPLICANT)
    manager = await joined(running, Side.MANAGER)
    await manager.wait_for_frames(10)
    tap = running.tap
    assert tap is not None
    async with asyncio.timeout(5):
        first = await tap.next_frame()
    assert first.image.shape == (240, 320, 3)
    offered, decoded = tap.offered, tap.decoded
    await asyncio.sleep(2)
    offered_rate = (tap.offered - offered) / 2
    decoded_rate = (tap.decoded - decoded) / 2
    # About 5 a second offered, out of every frame (about 30 a second) decoded.
    assert 3 <= offered_rate <= 7
    assert decoded_rate > 3 * offered_rate
    latest = tap.latest()
    assert latest is not None and latest.received_at > first.received_at
    await applicant.close()
    await manager.close()


async def test_an_applicant_preferring_h264_sends_vp8_and_is_recorded(
    call: tuple[Call, RecordedEvents],
) -> None:
    """Safari lists H.264 first; the server answers with VP8 first, so both sides
    send the codec the other side and the WebM recording can take unchanged."""
    running, _events = call
    applicant = Client(Side.APPLICANT, offer_first="H264")
    await running.join(Side.APPLICANT, "applicant-user", applicant.notify)
    await applicant.connect(running)
    video_line = next(x for x in applicant.offered.splitlines() if x.startswith("m=video"))
    first_format = video_line.split()[3]
    assert f"a=rtpmap:{first_format} H264/90000" in applicant.offered
    manager = await joined(running, Side.MANAGER)
    await manager.wait_for_frames(20)
    assert len(set(manager.codes)) > 10
    await running.end("manager_ended")
    await applicant.close()
    await manager.close()
    segment = next(s for s in running.segments if s.path.name.startswith("applicant"))
    info = streams_of(segment.path)
    assert info["codecs"] == ["opus", "vp8"] and info["frames"] > 20


async def test_an_h264_only_applicant_and_the_manager_both_send_h264_and_are_recorded(
    call: tuple[Call, RecordedEvents],
) -> None:
    """A browser without VP8 joins first: it is answered H.264, so is the manager
    who joins after it (whose browser offers both), and both sides are seen,
    tapped and recorded (in Matroska, which holds H.264) unchanged."""
    running, events = call
    applicant = Client(Side.APPLICANT, offer_only="H264")
    await running.join(Side.APPLICANT, "applicant-user", applicant.notify)
    await applicant.connect(running)
    assert "VP8" not in applicant.offered and "H264/90000" in applicant.offered
    manager = await joined(running, Side.MANAGER)
    await manager.wait_for_frames(20)
    await applicant.wait_for_frames(20)
    assert len(set(manager.codes)) > 10 and len(set(applicant.codes)) > 10
    tap = running.tap
    assert tap is not None
    async with asyncio.timeout(5):
        while tap.latest() is None:  # noqa: ASYNC110 - the decoder's thread offers it
            await asyncio.sleep(0.05)
    await running.end("manager_ended")
    await applicant.close()
    await manager.close()
    assert not [a for a, _ in events.records if a == "call.codec_mismatch"]
    assert not [a for a, _ in events.records if a == "call.reconnect_requested"]
    for segment in running.segments:
        assert segment.path.suffix == ".mkv"
        info = streams_of(segment.path)
        assert info["codecs"] == ["h264", "opus"] and info["frames"] > 20
        assert segment.unrecorded_video_frames == 0


async def test_a_manager_sending_vp8_is_asked_to_send_h264_for_an_h264_only_applicant(
    call: tuple[Call, RecordedEvents],
) -> None:
    """The manager joined first and sends VP8, which a browser without VP8 cannot
    show. The manager still sees the applicant's H.264 (its answer listed it);
    the server asks the manager's page to connect again, answers it H.264, and
    from then on both see each other. The gap is on record."""
    running, events = call
    manager = await joined(running, Side.MANAGER)
    applicant = Client(Side.APPLICANT, offer_only="H264")
    await running.join(Side.APPLICANT, "applicant-user", applicant.notify)
    await applicant.connect(running)
    await manager.expect("reconnect", reason="video_codec")
    await manager.wait_for_frames(20)
    assert applicant.video_frames == 0
    await manager.reconnect(running)
    await manager.wait_for_frames(20)
    await applicant.wait_for_frames(20)
    await running.end("manager_ended")
    await applicant.close()
    await manager.close()
    asked = [d for a, d in events.records if a == "call.reconnect_requested"]
    assert asked == [{"side": "manager", "reason": "video_codec", "codec": "h264"}]
    mismatches = [d for a, d in events.records if a == "call.codec_mismatch"]
    assert mismatches == [{"to": "applicant", "kind": "video", "sent": "vp8", "accepted": "h264"}]
    first, second = sorted(
        (s for s in running.segments if s.path.name.startswith("manager")), key=lambda s: s.path
    )
    assert streams_of(first.path)["codecs"] == ["opus", "vp8"]
    assert streams_of(second.path)["codecs"] == ["h264", "opus"]


def test_a_call_runs_on_the_services_event_loop(tmp_path: Path) -> None:
    """`signroom serve` runs on uvloop (config.event_loop): media flows both ways and
    both sides are recorded there too."""

    async def scenario() -> tuple[Client, Client, Call]:
        running = Call("app-uv", CallSettings(IceSettings(), tmp_path), RecordedEvents())
        applicant = await joined(running, Side.APPLICANT)
        manager = await joined(running, Side.MANAGER)
        await manager.wait_for_frames(20)
        await applicant.wait_for_frames(20)
        await running.end("manager_ended")
        await applicant.close()
        await manager.close()
        return applicant, manager, running

    with asyncio.Runner(loop_factory=lambda: new_event_loop("uvloop")) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        applicant, manager, running = runner.run(scenario())
    for client in (applicant, manager):
        assert client.codes[-1] > client.codes[0] and client.audio_frames > 20
    assert len(running.segments) == 2
    assert all(s.video_packets > 10 and s.audio_packets > 10 for s in running.segments)
