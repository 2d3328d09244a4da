"""What is known of the camera behind a live session: what the browser says
about it, and what the media itself shows.

Neither proves a camera is real: a virtual camera can take any name, and an
injected stream can be paced perfectly. They are recorded for the manager and the
reviewer, and a known virtual camera is flagged; the decision rests on the
challenges the server timed."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from statistics import mean, pstdev
from typing import Any

from live_identity.errors import BadCameraReport
from live_identity.frames import JudgedFrame

# Names virtual-camera software gives its device (OBS, ManyCam, Snap Camera,
# XSplit, v4l2loopback, DroidCam, Chromium's own fake device, ...).
VIRTUAL_CAMERA = re.compile(
    r"virtual|obs|manycam|snap camera|xsplit|v4l2loopback|droidcam|epoccam|iriun|"
    r"camtwist|splitcam|youcam|fake|dummy",
    re.IGNORECASE,
)
MAX_LABEL = 200


@dataclass(frozen=True, slots=True)
class CameraReport:
    """As the page reports it (MediaStreamTrack.label and getSettings())."""

    label: str
    width: int | None
    height: int | None
    frame_rate: float | None
    facing_mode: str | None

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> CameraReport:
        def number(name: str) -> float | None:
            value = message.get(name)
            if value is None:
                return None
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0 <= value <= 100_000)
            ):
                raise BadCameraReport(f"{name} must be a number")
            return float(value)

        label = message.get("label", "")
        facing = message.get("facing_mode")
        if not isinstance(label, str) or len(label) > MAX_LABEL:
            raise BadCameraReport(f"label must be text of at most {MAX_LABEL} characters")
        if facing is not None and (not isinstance(facing, str) or len(facing) > 20):
            raise BadCameraReport("facing_mode must be short text")
        width, height = number("width"), number("height")
        return cls(
            label,
            None if width is None else int(width),
            None if height is None else int(height),
            number("frame_rate"),
            facing,
        )

    @property
    def virtual(self) -> bool:
        return bool(VIRTUAL_CAMERA.search(self.label))

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "width": self.width,
            "height": self.height,
            "frame_rate": None if self.frame_rate is None else f"{self.frame_rate:g}",
            "facing_mode": self.facing_mode,
            "virtual_camera": self.virtual,
        }


def media_report(frames: list[JudgedFrame]) -> dict[str, object]:
    """Frame timing and resolution as the server received them. A real camera
    paces its frames unevenly (exposure, load); a resolution change mid-session
    can mean the source was switched."""
    sizes = sorted({(f.width, f.height) for f in frames})
    gaps = [b.seconds - a.seconds for a, b in itertools.pairwise(frames)]
    gaps = [g for g in gaps if g > 0]
    return {
        "frames": len(frames),
        "resolutions": [f"{w}x{h}" for w, h in sizes],
        "resolution_changes": sum(
            1 for a, b in itertools.pairwise(frames) if (a.width, a.height) != (b.width, b.height)
        ),
        # Numbers as text: the audit log has no canonical encoding for floats.
        "frame_interval_ms": f"{mean(gaps) * 1000:.1f}" if gaps else None,
        # Coefficient of variation of the intervals between the frames judged.
        "frame_interval_variation": f"{pstdev(gaps) / mean(gaps):.3f}" if len(gaps) > 1 else None,
        "media_seconds": f"{frames[-1].seconds - frames[0].seconds:.3f}" if frames else "0",
    }
