"""Temporal layers: reading a VP8 frame's layer from its RTP payload, and the frame
tap decoding only the frames it needs, with pictures identical to a full decode."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import av
import numpy as np
import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor

from media.keyframes import is_keyframe
from media.recording import AssembledFrame, FrameAssembler
from media.tap import FrameTap
from media.temporal_layers import LayerSelector, TemporalLayer, vp8_temporal_layer
from tests.vp8_support import STEP, layered_clip, rtp_packets

BASE, UPPER_SYNC, UPPER = TemporalLayer(0, False), TemporalLayer(1, True), TemporalLayer(1, False)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", None),
        (b"\x10", None),  # no extension: a stream without layers
        (b"\x90", None),  # extension bit, extension octet missing
        (b"\x90\x80\x05", None),  # picture ID only
        (b"\x90\x20", None),  # T set, its octet missing
        (b"\x90\xa0\x05", None),  # picture ID, then nothing
        (b"\x90\xa0\x85", None),  # a long picture ID cut short
        (b"\x90\xe0\x85\x01\x07", None),  # long picture ID, TL0PICIDX, no TID octet
        (b"\x90\x20\x40", TemporalLayer(1, False)),
        (b"\x90\x20\x60", TemporalLayer(1, True)),
        (b"\x90\xa0\x05\x80", TemporalLayer(2, False)),
        (b"\x90\xe0\x85\x01\x07\x00\x9d\x01", TemporalLayer(0, False)),
        (b"\x90\x30\xff", TemporalLayer(3, True)),  # T and K share the octet
    ],
)
def test_the_layer_is_read_from_the_payload_descriptor(
    payload: bytes, expected: TemporalLayer | None
) -> None:
    assert vp8_temporal_layer(payload) == expected


@pytest.mark.parametrize("picture_id", [None, 5, 127, 128, 0x7FFF])
@pytest.mark.parametrize("tl0picidx", [None, 0, 255])
@pytest.mark.parametrize("tid", [(0, False), (1, True), (2, False), (3, True)])
def test_descriptors_written_by_aiortc_read_back(
    picture_id: int | None, tl0picidx: int | None, tid: tuple[int, bool]
) -> None:
    descriptor = VpxPayloadDescriptor(
        partition_start=1,
        partition_id=0,
        picture_id=picture_id,
        tl0picidx=tl0picidx,
        tid=(tid[0], int(tid[1])),
    )
    assert vp8_temporal_layer(bytes(descriptor) + b"\x9d\x01\x2a") == TemporalLayer(*tid)


def test_upper_layers_are_skipped_while_the_base_layer_gives_the_rate() -> None:
    selector = LayerSelector(fps=5)
    decisions = [
        selector.wanted(BASE if i % 2 == 0 else UPPER_SYNC, i == 0, i * STEP) for i in range(30)
    ]
    assert all(decisions[0::2])  # the base layer, 7.5 fps
    # Upper frames are decoded until the base layer's rate is known, then skipped.
    assert decisions[1] and not any(decisions[5::2])
    assert selector.skipped == sum(not d for d in decisions)


def test_without_layers_every_frame_is_decoded() -> None:
    selector = LayerSelector(fps=5)
    assert all(selector.wanted(None, i == 0, i * STEP) for i in range(30))
    assert selector.skipped == 0


def test_a_key_frame_is_decoded_whatever_layer_it_names() -> None:
    selector = LayerSelector(fps=5)
    for i in range(10):
        selector.wanted(BASE if i % 2 == 0 else UPPER_SYNC, i == 0, i * STEP)
    assert selector.wanted(UPPER, True, 10 * STEP)


# Layer patterns with what each frame references (frames back). Three layers, as
# WebRTC's L1T3 sends them: base frames the previous base frame, the two frames
# after it base frames only (Y), the last of the cycle the layer 1 frame before it.
L1T3 = [
    (TemporalLayer(0, False), (4,)),
    (TemporalLayer(2, True), (1,)),
    (TemporalLayer(1, True), (2,)),
    (TemporalLayer(2, False), (1, 3)),
]
# Two layers where an upper frame also references the upper frame before it
# (through the golden buffer, as WebRTC's L1T2 does).
L1T2_GOLDEN = [
    (TemporalLayer(0, False), (2,)),
    (TemporalLayer(1, True), (1,)),
    (TemporalLayer(0, False), (2,)),
    (TemporalLayer(1, False), (1, 2)),
]


@pytest.mark.parametrize(
    ("pattern", "fps"),
    # At 15 fps, the base layer alone is 3.75 and 7.5 fps: short of these rates.
    [(L1T3, 5.0), (L1T2_GOLDEN, 10.0)],
    ids=["L1T3", "L1T2-golden"],
)
@pytest.mark.parametrize("shift", [0, 1, 2, 3])  # where in the pattern the rate drops
def test_when_the_base_layer_is_too_slow_upper_layers_resume_cleanly(
    pattern: list[tuple[TemporalLayer, tuple[int, ...]]], fps: float, shift: int
) -> None:
    selector = LayerSelector(fps=fps)
    pts, decided = 0, list[bool]()
    # 15 fps, then 30 fps (the base layer alone is enough), then 15 fps again.
    for frames, step in [(40, STEP), (80 + shift, STEP // 2), (80, STEP)]:
        for _ in range(frames):
            layer, _ = pattern[len(decided) % 4]
            decided.append(selector.wanted(layer, not decided, pts))
            pts += step
    base = [pattern[n % 4][0].index == 0 for n in range(len(decided))]
    assert all(decided[:40])
    assert all(d for d, b in zip(decided, base, strict=True) if b)
    assert not any(d for d, b in zip(decided[80:120], base[80:120], strict=True) if not b)
    assert all(decided[-20:])
    # Never a frame whose references were skipped: that would be a corrupt picture.
    for n, wanted in enumerate(decided):
        if wanted and n >= 4:
            references = pattern[n % 4][1]
            assert all(decided[n - back] for back in references), n
    assert selector.skipped == decided.count(False)


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (the tap's counters have no event)
            await asyncio.sleep(0.001)


def full_decode(clip: list[bytes]) -> list[np.ndarray[Any, Any]]:
    decoder: Any = av.CodecContext.create("vp8", "r")
    return [decoder.decode(av.Packet(data))[0].to_ndarray(format="bgr24") for data in clip]


async def test_the_tap_skips_the_upper_layer_and_offers_exact_pictures() -> None:
    clip = layered_clip(60)
    expected = full_decode(clip)
    tap = FrameTap(fps=5)
    try:
        for n, data in enumerate(clip):
            if n == len(clip) - 2:
                await asyncio.sleep(0.25)  # the last base frame comes due for offering
            tap.push(AssembledFrame(data, n * STEP, BASE if n % 2 == 0 else UPPER_SYNC, "vp8"))
            # Paced, so the decoder never falls behind (it would skip frames).
            await until(partial(lambda n: tap.decoded + tap.not_needed >= n + 1 - 4, n))
        await until(lambda: tap.decoded + tap.not_needed == len(clip))
        assert tap.skipped == 0
        # Upper frames are skipped once the base layer's rate is known.
        assert tap.not_needed >= len(clip) // 2 - 3
        assert tap.decoded + tap.not_needed == len(clip)
        latest = tap.latest()
        assert latest is not None
        shown = round(latest.seconds * 90_000 / STEP)
        assert shown == len(clip) - 2
        # Decoding half the frames gives exactly the picture a full decode gives.
        assert np.array_equal(latest.image, expected[shown])
    finally:
        await tap.close()


def test_the_recorder_s_frames_carry_the_layer_their_packets_named() -> None:
    clip = layered_clip(8)
    assembler = FrameAssembler("video")
    assembled = [
        frame for packet in rtp_packets(clip) if (frame := assembler.add(packet, "vp8")) is not None
    ]
    # The jitter buffer hands a frame over when the next one starts.
    assert len(assembled) >= len(clip) - 1
    assert [frame.data for frame in assembled] == clip[: len(assembled)]
    assert [frame.layer for frame in assembled] == [
        TemporalLayer(n % 2, n % 2 == 1) for n in range(len(assembled))
    ]
    assert is_keyframe("vp8", assembled[0].data)
