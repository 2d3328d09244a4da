"""VP8 for tests that need real encoded video without a call: a clip in two
temporal layers (what a browser asked for L1T2 sends) and its RTP packets as
aiortc's receiver leaves them (payload as sent, `_data` depacketised)."""

from __future__ import annotations

import fractions
from typing import Any

import av
import numpy as np
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket

STEP = 6000  # 15 fps in the 90 kHz clock


def layered_clip(frames: int, *, keyframe_every: int = 32) -> list[bytes]:
    """320x240 VP8 in libvpx's two-layer pattern: frame n is in layer n % 2, and
    odd frames depend on the base layer only. A key frame every `keyframe_every`
    frames (a browser sends one only when asked: give it more than the clip's
    length for that)."""
    encoder: Any = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.framerate, encoder.time_base = 15, fractions.Fraction(1, 15)
    encoder.bit_rate, encoder.gop_size = 400_000, keyframe_every
    encoder.options = {
        "ts-parameters": (
            "ts_number_layers=2:ts_target_bitrate=250,400:ts_rate_decimator=2,1"
            ":ts_periodicity=2:ts_layer_id=0,1:ts_layering_mode=2"
        ),
        "error-resilient": "default",
    }
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 255, (240, 640, 3), dtype=np.uint8)
    out: list[bytes] = []
    for n in range(frames):
        # A moving scene with changing brightness: every frame differs.
        image = np.clip(scene[:, n * 3 : n * 3 + 320].astype(int) + n, 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = n
        out += [bytes(p) for p in encoder.encode(frame)]
    out += [bytes(p) for p in encoder.encode(None)]
    assert len(out) == frames
    return out


def rtp_packets(
    clip: list[bytes], *, chunk: int = 1000, first_frame: int = 0, first_sequence: int = 0
) -> list[RtpPacket]:
    """The clip's frames cut into RTP packets whose descriptors name each frame's
    layer (n % 2; upper frames are layer syncs), frame n from `first_frame` on."""
    packets: list[RtpPacket] = []
    for offset, data in enumerate(clip):
        n = first_frame + offset
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        for index, piece in enumerate(pieces):
            descriptor = VpxPayloadDescriptor(
                partition_start=int(index == 0),
                partition_id=0,
                picture_id=n & 0x7FFF,
                tid=(n % 2, n % 2),
            )
            packet = RtpPacket(
                payload_type=96,
                sequence_number=(first_sequence + len(packets)) & 0xFFFF,
                timestamp=(n * STEP) & 0xFFFFFFFF,
                marker=int(index == len(pieces) - 1),
                payload=bytes(descriptor) + piece,
            )
            packet._data = piece  # type: ignore[attr-defined]
            packets.append(packet)
    return packets
