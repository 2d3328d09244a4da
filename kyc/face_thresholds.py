"""Face match decision thresholds, by model: they belong to the weights they were
calibrated on, so they are keyed by the model file's SHA-256.

The committed ones come from `make bench-kyc-faces` on every labelled pair in
../shared/data/faces, East Asian sets included, with each constraint holding on
every set (benchmarks/README.md has the tables). A bank running its own model
calibrates it on its own labelled pairs with `signroom kyc calibrate --write`,
and names the file it wrote in SIGNROOM_FACE_THRESHOLDS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kyc.errors import EngineUnavailable
from kyc.face_engine import Description


@dataclass(frozen=True, slots=True)
class Thresholds:
    # At or below: the same person. The largest distance whose impostor rate
    # (FAR) is at most 0.1 % on every set.
    match: float
    # Above `match` and at or below this: a person decides. Above: different
    # people. The smallest with at most 3 % of genuine pairs beyond it on every set.
    review: float


DLIB_RESNET = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
ARCFACE_W600K_MBF = "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f"

CALIBRATED: dict[str, Thresholds] = {
    # dlib separates East Asian faces poorly: holding FAR 0.1 % on the look-alike
    # set leaves 13 % of East Asian genuine pairs a `match`; 86 % go to a person
    # (2026-12-04, 273,254 pairs; LFW's old 0.56 let 26 % of impostors through).
    DLIB_RESNET: Thresholds(match=0.32, review=0.58),
    # Cosine distance. East Asian genuine pairs: 78 % match, 2.4 % no_match, with
    # 0.02 % of impostors a match (2026-12-04, 272,760 pairs).
    ARCFACE_W600K_MBF: Thresholds(match=0.60, review=0.75),
}


def thresholds_for(model: Description, written_file: str) -> Thresholds:
    """The thresholds for `model`: from `written_file` (what `signroom kyc
    calibrate` wrote; "" for none) when it names this model, else committed ones."""
    path = written_file
    if path:
        try:
            written = json.loads(Path(path).read_text(encoding="utf-8"))
            if written["sha256"] == model.sha256:
                return Thresholds(float(written["match"]), float(written["review"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineUnavailable(
                f"SIGNROOM_FACE_THRESHOLDS: {path} unreadable ({type(exc).__name__})"
            ) from None
    found = CALIBRATED.get(model.sha256)
    if found is None:
        raise EngineUnavailable(
            f"no calibrated thresholds for {model.model} (sha256 {model.sha256[:12]}...): "
            "run `signroom kyc calibrate --pairs PAIRS.csv` and set SIGNROOM_FACE_THRESHOLDS"
        )
    return found
