"""What a recording's container must know of a video stream before its first
frame, read from the key frame that starts it: the codec, the picture size and,
for H.264, the parameter sets (SPS, PPS) its CodecPrivate is built from.

VP8 goes into WebM; H.264, which WebM cannot hold, into Matroska. Both are
written as they arrive, without re-encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import av

_H264_IDR, _H264_SPS, _H264_PPS = 5, 7, 8


class Container(NamedTuple):
    format: str  # FFmpeg's muxer
    suffix: str
    media_type: str


CONTAINERS = {
    "vp8": Container("webm", ".webm", "video/webm"),
    "h264": Container("matroska", ".mkv", "video/x-matroska"),
}
# What a recording's file can be, by suffix: its media type.
RECORDING_TYPES = {c.suffix: c.media_type for c in CONTAINERS.values()}


@dataclass(frozen=True, slots=True)
class VideoFormat:
    codec: str  # "vp8" or "h264"
    width: int
    height: int
    extradata: bytes  # H.264: SPS and PPS, Annex B; empty for VP8


def video_format(codec: str, frame: bytes) -> VideoFormat | None:
    """The format the key frame `frame` starts; None when it is not a key frame
    (with its parameter sets, for H.264) or the codec is not one recorded."""
    if codec == "vp8":
        size = vp8_size(frame)
        return VideoFormat("vp8", *size, b"") if size is not None else None
    if codec == "h264":
        units = h264_nal_units(frame)
        if not {_H264_IDR, _H264_SPS, _H264_PPS} <= {unit[0] & 0x1F for unit in units}:
            return None
        size = _h264_size(frame)
        if size is None:
            return None
        parameter_sets = b"".join(
            b"\x00\x00\x00\x01" + unit for unit in units if unit[0] & 0x1F in (_H264_SPS, _H264_PPS)
        )
        return VideoFormat("h264", *size, parameter_sets)
    return None


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386 section 9.1)."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


def h264_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B stream (start codes of three or four bytes),
    empty ones left out."""
    starts = []
    found = data.find(b"\x00\x00\x01")
    while found != -1:
        starts.append(found)
        found = data.find(b"\x00\x00\x01", found + 3)
    units = []
    for index, start in enumerate(starts):
        last = index + 1 == len(starts)
        # A zero before the next start code is that code's fourth byte.
        unit = data[start + 3 :] if last else data[start + 3 : starts[index + 1]].rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


def _h264_size(frame: bytes) -> tuple[int, int] | None:
    # Reading the size from the SPS means parsing its Exp-Golomb fields, cropping
    # included; decoding the one key frame is simpler and exact.
    decoder = av.CodecContext.create("h264", "r")
    try:
        pictures = decoder.decode(av.Packet(frame)) + decoder.decode(None)
    except av.FFmpegError:
        return None
    return (pictures[0].width, pictures[0].height) if pictures else None
