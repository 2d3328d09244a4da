"""Recognising key frames: where a receiver that joins (or recovers) can start.

Two levels: a whole encoded frame (what the recorder and the frame tap hold), and
an RTP packet (what forwarding holds: it starts a new receiver at the first packet
of a key frame).
"""

from __future__ import annotations

from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket

_H264_IDR = 5
_H264_SPS = 7


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded video frame can be decoded on its own."""
    if codec == "vp8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
        return bool(data) and not data[0] & 0x01
    if codec == "h264":
        # Annex B stream (aiortc's depacketiser adds start codes): an IDR slice.
        return _h264_nal_types(data) & {_H264_IDR} != set()
    return True


def starts_keyframe(codec: str, packet: RtpPacket) -> bool:
    """Whether a video RTP packet (as aiortc's receiver left it: payload as sent,
    `_data` depacketised) is the first of a key frame."""
    data: bytes = getattr(packet, "_data", b"")
    if codec == "vp8":
        # RFC 7741: the first packet of partition 0 carries the VP8 frame tag.
        try:
            descriptor, _ = VpxPayloadDescriptor.parse(packet.payload)
        except ValueError:
            return False
        return bool(descriptor.partition_start and descriptor.partition_id == 0) and (
            is_keyframe("vp8", data)
        )
    if codec == "h264":
        # Parameter sets go just before the IDR slice; start there when they do.
        return _h264_nal_types(data) & {_H264_IDR, _H264_SPS} != set()
    return True


def _h264_nal_types(data: bytes) -> set[int]:
    return {data[i + 3] & 0x1F for i in range(len(data) - 3) if data[i : i + 3] == b"\x00\x00\x01"}
