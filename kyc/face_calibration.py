"""Choosing a face model's thresholds from labelled pairs, and reading what they give.

Used by `signroom kyc calibrate` (a bank's own pairs, its own model) and by
`make bench-kyc-faces` (every set in ../shared/data/faces). A threshold must hold
on every set given, not only on the pooled pairs: sets differ in how hard they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from kyc.face_thresholds import Thresholds

Scored = Sequence[tuple[float, bool]]  # distance, same person

# `match`: at most this share of impostor pairs decided match on any set.
MAX_MATCH_FAR = 0.001
# `review`: at most this share of genuine pairs beyond it (no_match) on any set.
MAX_GENUINE_NO_MATCH = 0.03


def rates(distances: Scored, threshold: float) -> tuple[float, float]:
    """(FAR, FRR) at this threshold; a set without impostor (genuine) pairs has FAR (FRR) 0."""
    genuine = [d for d, same in distances if same]
    impostor = [d for d, same in distances if not same]
    far = sum(d <= threshold for d in impostor) / len(impostor) if impostor else 0.0
    frr = sum(d > threshold for d in genuine) / len(genuine) if genuine else 0.0
    return far, frr


def bands(distances: Scored, limits: Thresholds) -> dict[str, float]:
    """Shares of genuine (gen_*) and impostor (imp_*) pairs decided match, review, no_match."""
    shares: dict[str, float] = {}
    for kind, same in (("gen", True), ("imp", False)):
        group = [d for d, s in distances if s is same]
        total = max(len(group), 1)
        shares[f"{kind}_match"] = sum(d <= limits.match for d in group) / total
        shares[f"{kind}_review"] = sum(limits.match < d <= limits.review for d in group) / total
        shares[f"{kind}_no_match"] = sum(d > limits.review for d in group) / total
    return shares


def calibrate(sets: Sequence[Scored], *, step: float = 0.005) -> Thresholds:
    """The largest `match` and the smallest `review` (at or above it) that meet the
    constraints on every set, on a grid of `step` over the distances seen."""
    distances = [d for group in sets for d, _ in group]
    if not distances:
        raise ValueError("no scored pairs to calibrate on")
    grid = [i * step for i in range(int(max(distances) / step) + 2)]
    match = max(
        (t for t in grid if all(rates(g, t)[0] <= MAX_MATCH_FAR for g in sets)), default=0.0
    )
    review = min(
        (
            t
            for t in grid
            if t >= match and all(rates(g, t)[1] <= MAX_GENUINE_NO_MATCH for g in sets)
        ),
        default=grid[-1],
    )
    return Thresholds(round(match, 6), round(review, 6))


def table(distances: Scored, rows: int = 25) -> list[dict[str, float]]:
    """FAR and FRR at evenly spaced thresholds across the distances seen."""
    low = min(d for d, _ in distances)
    high = max(d for d, _ in distances)
    out = []
    for i in range(rows):
        threshold = low + (high - low) * i / (rows - 1)
        far, frr = rates(distances, threshold)
        out.append({"threshold": round(threshold, 4), "far": far, "frr": frr})
    return out
