"""Face match calibration and cost, for each face engine: FAR/FRR at each
distance threshold on every labelled pair in ../shared/data/faces, per set, the
thresholds that meet the constraints on every set, the decisions the committed
thresholds give, and the cost of our verification (quality gates, alignment,
encoding) against the engine's bare model calls in the same run.

    python -m benchmarks.bench_kyc_faces [--data DIR] [--workers W] [--engine E]

Sets and labels: lfw-subset and face_recognition knn_examples by folder (all
pairs); deepface by its master.csv and face-recognition-pivot.csv Yes/No pairs;
asian_famous (thefamouspeople, with PhotoMaker's photos of Yang Mi) and
asian_kpop (look-alike idols) by folder, all pairs. Images are encoded with the
product's own `kyc.faces.sample` (quality gates on); an image it refuses is a
failure to enrol (FTE) and its pairs are left out.

Constraints (kyc/face_calibration.py): `match` is the largest threshold with FAR
<= 0.1 % on every set; `review` the smallest at or above it with at most 3 % of
genuine pairs beyond it (`no_match`) on every set.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import multiprocessing
import os
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kyc import faces
from kyc.errors import NoUsableFace
from kyc.face_calibration import bands, calibrate, rates
from kyc.face_engine import ENGINES, FaceConfig, FaceEngine, engine
from kyc.face_thresholds import thresholds_for
from tests import specimens

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
Pair = tuple[str, str, bool, str]  # image a, image b, same person, set name


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Sets whose people are East Asian: the applicants this product serves, and the
# ones dlib separates worst. Reported apart and summed up as `asian_*`.
ASIAN_SETS = ("asian_famous", "asian_kpop")


def _all_pairs(name: str, images: list[tuple[str, str]]) -> set[Pair]:
    """Every pair of (path, person) images, genuine when the person is the same."""
    return {
        (a, b, person_a == person_b, name)
        for (a, person_a), (b, person_b) in itertools.combinations(sorted(images), 2)
    }


def _people(folder: Path) -> list[tuple[str, str]]:
    """(path, person) for images in folder/<person>/."""
    return [
        (str(p), p.parent.name) for p in folder.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES
    ]


def labelled_pairs(root: Path) -> list[Pair]:
    pairs: set[Pair] = set()
    pairs |= _all_pairs("lfw", _people(root / "lfw-subset/images"))
    pairs |= _all_pairs("knn", _people(root / "face_recognition/examples/knn_examples/train"))
    asian = root / "asian"
    famous = _people(asian / "thefamouspeople")
    # PhotoMaker's six photos are of Yang Mi, who is in thefamouspeople too.
    famous += [(str(p), "CN_yang-mi") for p in (asian / "photomaker_yangmi").glob("*/*")]
    pairs |= _all_pairs("asian_famous", famous)
    pairs |= _all_pairs("asian_kpop", _people(asian / "kpop_idols14"))
    deepface = root / "deepface/tests/unit/dataset"
    for table in ("master.csv", "face-recognition-pivot.csv"):
        with (deepface / table).open(newline="") as handle:
            for row in csv.DictReader(handle):
                first, second = sorted(
                    str(deepface / Path(row[column]).name) for column in ("file_x", "file_y")
                )
                same = (row.get("Decision") or row.get("decision")) == "Yes"
                pairs.add((first, second, same, "deepface"))
    return sorted(pairs)


def _use_engine(name: str) -> None:
    os.environ["SIGNROOM_FACE_ENGINE"] = name


def _encode_card(path: str) -> tuple[str, np.ndarray[Any, Any] | None, str | None]:
    """The photo as the portrait of a generated ID card, read back as the service
    reads a card's portrait: small, printed, on the card's background."""
    image = cv2.imread(path)
    if image is None:
        return path, None, "unreadable"
    try:
        person = specimens.random_identity(random.Random(path), today=date(2026, 12, 4))
        card = specimens.draw_id_front(person, portrait=faces.head_crop(image))
        return path, faces.sample(card, portrait=True).encoding, None
    except NoUsableFace as exc:
        return path, None, str(exc)


def _encode(path: str) -> tuple[str, np.ndarray[Any, Any] | None, str | None]:
    image = cv2.imread(path)
    if image is None:
        return path, None, "unreadable"
    try:
        return path, faces.sample(image).encoding, None
    except NoUsableFace as exc:
        return path, None, str(exc)


def speed(model: FaceEngine, paths: list[str]) -> tuple[float, float]:
    """Median seconds per image: the engine's bare detect + encode, and sample()."""
    bare, ours = [], []
    for path in paths:
        image = cv2.imread(path)
        if image is None:
            continue
        start = time.perf_counter()
        found = model.detect(image, small=False)
        if found:
            model.encode(image, found[0])
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        with contextlib.suppress(NoUsableFace):
            faces.sample(image)
        ours.append(time.perf_counter() - start)
    return statistics.median(bare), statistics.median(ours)


def run_engine(name: str, data: Path, pairs: list[Pair], workers: int) -> dict[str, str]:
    """One engine's tables; returns its summary figures."""
    _use_engine(name)
    model = engine()
    print(f"== engine {name}: {model.description.model} ({model.description.licence})")
    images = sorted({p for a, b, _, _ in pairs for p in (a, b)})
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_use_engine, initargs=(name,)
    ) as pool:
        encoded = list(pool.map(_encode, images, chunksize=8))
    encodings = {path: enc for path, enc, _ in encoded if enc is not None}
    refused = {path: why for path, _, why in encoded if why}
    scored = [
        (model.distance(encodings[a], encodings[b]), same, set_name)
        for a, b, same, set_name in pairs
        if a in encodings and b in encodings
    ]
    names = sorted({set_name for _, _, set_name in scored})
    by_set = {n: [(d, same) for d, same, set_name in scored if set_name == n] for n in names}
    asian = [(d, same) for d, same, set_name in scored if set_name in ASIAN_SETS]
    everything = [(d, same) for d, same, _ in scored]
    print(
        f"images={len(images)} refused={len(refused)} pairs={len(scored)} "
        f"genuine={sum(s for _, s in everything)} impostor={sum(not s for _, s in everything)}"
    )
    sets_of: dict[str, set[str]] = {}
    for a, b, _, set_name in pairs:
        sets_of.setdefault(a, set()).add(set_name)
        sets_of.setdefault(b, set()).add(set_name)
    for set_name in names:
        group = by_set[set_name]
        fte = sum(1 for path in refused if set_name in sets_of[path])
        print(
            f"  {set_name}: genuine={sum(s for _, s in group)} "
            f"impostor={sum(not s for _, s in group)} refused_images={fte}"
        )
    low = min(d for d, _ in everything)
    high = max(d for d, _ in everything)
    print(f"{'threshold':>9}" + "".join(f" {'FAR ' + n:>17} {'FRR ' + n:>17}" for n in names))
    for threshold in np.linspace(low, high, 25):
        row = f"{threshold:>9.3f}"
        for set_name in names:
            far, frr = rates(by_set[set_name], float(threshold))
            row += f" {far:>17.3%} {frr:>17.2%}"
        print(row)
    suggested = calibrate(list(by_set.values()))
    committed = thresholds_for(model.description, FaceConfig.from_environ().thresholds)
    print(
        f"suggested: match={suggested.match:.3f} review={suggested.review:.3f}; "
        f"committed: match={committed.match} review={committed.review}"
    )
    print(f"decisions at the committed thresholds ({'set':>14}: genuine m/r/n, impostor m/r/n):")
    for set_name, group in [*by_set.items(), ("all_asian", asian)]:
        share = bands(group, committed)
        print(
            f"  {set_name:>14}: {share['gen_match']:.1%}/{share['gen_review']:.1%}/"
            f"{share['gen_no_match']:.1%}   {share['imp_match']:.3%}/{share['imp_review']:.1%}/"
            f"{share['imp_no_match']:.1%}"
        )
    # The service's own path: an ID card portrait against other photos of the
    # person (and of everyone else), on the East Asian people who have several.
    famous = sorted({a for a, _, _, n in pairs if n == "asian_famous"} & encodings.keys())
    person_of = {path: Path(path).parent.name for path in famous}
    first: dict[str, str] = {}
    for path in famous:
        first.setdefault(person_of[path], path)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_use_engine, initargs=(name,)
    ) as pool:
        cards = {
            p: e for p, e, _ in pool.map(_encode_card, sorted(first.values())) if e is not None
        }
    portrait = [
        (model.distance(card, encodings[other]), person_of[path] == person_of[other])
        for path, card in cards.items()
        for other in famous
        if other != path
    ]
    share = bands(portrait, committed)
    print(
        f"ID card portrait vs photos (asian_famous): cards={len(cards)}/{len(first)} "
        f"genuine={sum(s for _, s in portrait)} impostor={sum(not s for _, s in portrait)}: "
        f"genuine {share['gen_match']:.1%}/{share['gen_review']:.1%}/{share['gen_no_match']:.1%}, "
        f"impostor match {share['imp_match']:.3%}"
    )
    bare, ours = speed(model, sorted(encodings)[:40])
    asian_share = bands(asian, committed)
    far_m, frr_m = rates(everything, committed.match)
    lfw_far, lfw_frr = rates(by_set["lfw"], committed.match)
    return {
        "asian_far_match": f"{asian_share['imp_match']:.4f}",
        "asian_gen_match": f"{asian_share['gen_match']:.4f}",
        "asian_gen_no_match": f"{asian_share['gen_no_match']:.4f}",
        "card_gen_match": f"{share['gen_match']:.4f}",
        "card_far_match": f"{share['imp_match']:.4f}",
        "far_match": f"{far_m:.4f}",
        "frr_match": f"{frr_m:.4f}",
        "lfw_far_match": f"{lfw_far:.4f}",
        "lfw_frr_match": f"{lfw_frr:.4f}",
        "fte": f"{len(refused) / len(images):.3f}",
        "verify_ms": f"{ours * 1000:.0f}",
        "bare_ms": f"{bare * 1000:.0f}",
        "verify_ratio": f"{ours / bare:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("SIGNROOM_FACES", DEFAULT_DATA))
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", choices=[*ENGINES, "all"], default="all")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"face data not found at {args.data}; pass --data or set SIGNROOM_FACES")
    pairs = labelled_pairs(args.data)
    chosen = ["arcface", "dlib"] if args.engine == "all" else [args.engine]
    summary: list[str] = []
    for name in chosen:
        figures = run_engine(name, args.data, pairs, args.workers)
        # The recommended engine's figures keep the plain names; the others are prefixed.
        prefix = "" if name == chosen[0] else f"{name}_"
        summary += [f"{prefix}{key}={value}" for key, value in figures.items()]
    print("bench-kyc-faces: " + " ".join(summary))


if __name__ == "__main__":
    main()
