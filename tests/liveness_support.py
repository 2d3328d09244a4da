"""Real face clips and their per-frame metrics, shared by the liveness and PAD tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from kyc.liveness import FrameMetrics, clip_metrics
from tests.shared_data import SHARED

DRIVING = SHARED / "video/LivePortrait/assets/examples/driving"


STILL = Path(__file__).parent / "data" / "faces" / "biden_biden2.jpg"


@cache
def metrics_of(clip: str) -> list[FrameMetrics]:
    return clip_metrics(DRIVING / f"{clip}.mp4")
