"""Temporal layers in VP8: which of the applicant's frames the frame tap can skip.

The applicant's page asks the browser for two temporal layers (scalability mode
L1T2): every other frame goes into an upper layer that no base-layer frame
references. The RTP payload descriptor names each frame's layer (TID, RFC 7741
section 4.2) and whether an upper-layer frame depends on base-layer frames only
(Y, "layer sync"). The tap offers 5 frames a second; a 15 fps camera's base layer
alone gives 7.5, so the tap decodes the base layer and skips the rest: half the
server's decoding, and the frames it does decode are exactly what a full decode
gives. Forwarding and recording keep every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 7741 section 4.2, the payload descriptor's bits.
_EXTENDED = 0x80  # X: the extension octet follows
_PICTURE_ID = 0x80  # I, in the extension octet
_TL0PICIDX = 0x40  # L
_TID = 0x20  # T
_KEYIDX = 0x10  # K
_LONG_PICTURE_ID = 0x80  # M, in the picture ID's first octet
_ALL_LAYERS = 4  # TID has two bits


@dataclass(frozen=True, slots=True)
class TemporalLayer:
    index: int  # TID: 0 is the base layer
    sync: bool  # Y: this frame depends on base-layer frames only


def vp8_temporal_layer(payload: bytes) -> TemporalLayer | None:
    """The temporal layer of the VP8 frame this RTP payload belongs to; None for a
    stream without layers, or a descriptor too short to say."""
    if len(payload) < 2 or not payload[0] & _EXTENDED:
        return None
    extension = payload[1]
    if not extension & _TID:
        return None
    offset = 2
    if extension & _PICTURE_ID:
        if len(payload) <= offset:
            return None
        offset += 2 if payload[offset] & _LONG_PICTURE_ID else 1
    if extension & _TL0PICIDX:
        offset += 1
    if len(payload) <= offset:
        return None
    octet = payload[offset]
    return TemporalLayer(octet >> 6, bool(octet & 0x20))


class LayerSelector:
    """Decides, frame by frame in decoding order, whether the tap decodes it.

    The base layer is always decoded. Upper layers are skipped while the base layer
    alone comes at `fps` or more. When it comes slower (three layers, or a camera
    that slowed down) upper-layer frames are decoded again, but only those whose
    references were all decoded: decoding any other would give a corrupt picture.
    After a skipped frame of layer n, that is a frame that depends on base-layer
    frames only (Y), or a frame of a lower layer than n whose own layers were kept
    whole, or anything after a key frame.
    """

    def __init__(self, fps: float) -> None:
        self.set_rate(fps)
        self._base_interval: float | None = None
        self._last_base_pts: int | None = None
        # Layers below this one have had every frame decoded since a sync point.
        self._whole_below = _ALL_LAYERS
        self.skipped = 0

    def set_rate(self, fps: float) -> None:
        """Wanted frames a second from now on (upper layers come back at their next
        decodable frame)."""
        # The longest base-layer frame interval (90 kHz) that still gives `fps`,
        # with a little slack for timestamps rounded by the browser.
        self._enough = 90_000 / fps * 1.05

    def wanted(self, layer: TemporalLayer | None, keyframe: bool, pts: int) -> bool:
        if layer is not None and layer.index == 0:
            self._note_base(pts)
        if keyframe:
            # Every reference starts again here: whatever its layer, it is needed.
            self._whole_below = _ALL_LAYERS
            return True
        if layer is None or layer.index == 0:
            return True
        index = layer.index
        decodable = layer.sync or index < self._whole_below
        if decodable and not self._base_is_enough():
            if layer.sync and index == self._whole_below:
                self._whole_below = index + 1
            return True
        self._whole_below = min(self._whole_below, index)
        self.skipped += 1
        return False

    def _note_base(self, pts: int) -> None:
        if self._last_base_pts is not None and pts > self._last_base_pts:
            interval = pts - self._last_base_pts
            # Smoothed, so one late frame does not switch the upper layers back on.
            self._base_interval = (
                interval
                if self._base_interval is None
                else 0.8 * self._base_interval + 0.2 * interval
            )
        self._last_base_pts = pts

    def _base_is_enough(self) -> bool:
        return self._base_interval is not None and self._base_interval <= self._enough
