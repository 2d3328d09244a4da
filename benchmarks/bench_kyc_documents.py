"""Document reading: per-field exact-match accuracy on the real ID cards and
business licences in ../shared/data/iddocs/samples (when present) and on generated
ID cards and licences, clean and photographed (distorted), and the cost of our
reading pipeline (OCR + row ordering + parsing + checks) against bare RapidOCR on
the same images.

    python -m benchmarks.bench_kyc_documents [--people N] [--workers W]

Real samples are read through the same entry points as an upload. N people give
3N generated documents (ID front, ID back, licence), each read clean and
distorted, and two "hard" ones drawn after the real samples: both sides of the
card on one grey, watermarked copy with one side upside down, and a stamped
licence, vertical and watermarked or horizontal on a grey copy. Accuracy runs
in W worker processes; the speed comparison runs in this process, alternating
bare and full reads image by image so load drift hits both.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from typing import Any

import cv2

from kyc.documents.id_card import ID_CARD, parse_id_card
from kyc.documents.licence import LICENCE, parse_licence
from kyc.ocr import DETECTION_OPTIONS, decode_image, get_engine
from kyc.reading import read_id_card, read_licence
from kyc.rectify import upright_lines
from tests import document_samples, specimens

TODAY = date(2026, 11, 29)
FRONT = ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
BACK = ("issuing_authority", "valid_from", "valid_until")


def _documents(seed: int) -> list[tuple[str, Any, dict[str, str], tuple[str, ...]]]:
    rng = random.Random(seed)
    person = specimens.random_identity(rng, today=TODAY)
    company = specimens.random_company(rng, person.name, today=TODAY)
    truth = person.expected_fields()
    licence_truth = company.expected_fields()
    docs = [
        ("id", specimens.draw_id_front(person), truth, FRONT),
        ("id", specimens.draw_id_back(person), truth, BACK),
        ("licence", specimens.draw_licence(company), licence_truth, tuple(licence_truth)),
    ]
    out = []
    for kind, image, expected, names in docs:
        out.append((kind, image, expected, names))
        out.append((kind + "+distorted", specimens.distort(image, rng), expected, names))
    # What the real samples showed: both sides on one grey copy, one upside down,
    # under a watermark; the vertical layout or a grey copy, stamped.
    page = specimens.draw_id_page(person, upside_down=rng.choice(("front", "back")))
    page = specimens.hard_copy(specimens.watermark(page, rng), rng)
    out.append(("id+hard", page, truth, FRONT + BACK))
    if seed % 2:
        licence = specimens.watermark(specimens.draw_licence(company, vertical=True), rng)
    else:
        licence = specimens.hard_copy(specimens.draw_licence(company), rng)
    out.append(("licence+hard", specimens.stamp(licence, rng), licence_truth, tuple(licence_truth)))
    return out


def _score(seed: int) -> Counter[tuple[str, str, bool]]:
    """(condition, field, correct) counts for one generated person and company."""
    counts: Counter[tuple[str, str, bool]] = Counter()
    for kind, image, expected, names in _documents(seed):
        if kind.startswith("licence"):
            got = parse_licence(upright_lines(image, LICENCE))
        else:
            got = parse_id_card(upright_lines(image, ID_CARD))
        condition = kind.partition("+")[2] or "clean"
        for name in names:
            counts[(condition, name, name in got and got[name].value == expected[name])] += 1
    return counts


def _real(sample: document_samples.Sample) -> dict[str, bool]:
    data = sample.image.read_bytes()
    reading = read_id_card(data, today=TODAY) if sample.kind == "id_card" else read_licence(data)
    return document_samples.score(sample, reading.fields)


def real_accuracy(workers: int) -> dict[str, dict[str, tuple[int, int]]]:
    """Kind -> field -> (read exactly, samples with that field)."""
    found = document_samples.samples()
    totals: dict[str, dict[str, list[int]]] = {}
    with ProcessPoolExecutor(workers) as pool:
        for sample, outcome in zip(found, pool.map(_real, found), strict=True):
            misses = [name for name, right in outcome.items() if not right]
            print(f"  {sample.kind:<8} {sample.name:<40} missed: {', '.join(misses) or '-'}")
            for name, right in outcome.items():
                counts = totals.setdefault(sample.kind, {}).setdefault(name, [0, 0])
                counts[0] += right
                counts[1] += 1
    return {
        kind: {name: (right, seen) for name, (right, seen) in fields.items()}
        for kind, fields in totals.items()
    }


def _rate(counts: dict[str, tuple[int, int]], *names: str) -> float:
    right = sum(counts[name][0] for name in names if name in counts)
    seen = sum(counts[name][1] for name in names if name in counts)
    return right / seen if seen else float("nan")


def accuracy(people: int, workers: int) -> dict[tuple[str, str], float]:
    totals: Counter[tuple[str, str, bool]] = Counter()
    with ProcessPoolExecutor(workers) as pool:
        for counts in pool.map(_score, range(1000, 1000 + people)):
            totals.update(counts)
    rates = {}
    for condition, name, _ in list(totals):
        right = totals[(condition, name, True)]
        rates[(condition, name)] = right / (right + totals[(condition, name, False)])
    return rates


def speed(samples: int) -> tuple[float, float]:
    """Median seconds per image: bare RapidOCR call, and our full read."""
    engine = get_engine()
    images: list[bytes] = []
    for seed in range(2000, 2000 + samples):
        person = specimens.random_identity(random.Random(seed), today=TODAY)
        _ok, encoded = cv2.imencode(".png", specimens.draw_id_front(person))
        images.append(encoded.tobytes())
    read_id_card(images[0], today=TODAY)  # warm-up: model load, first-run allocations
    bare, full = [], []
    for data in images:
        start = time.perf_counter()
        engine(decode_image(data), **DETECTION_OPTIONS)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        read_id_card(data, today=TODAY)
        full.append(time.perf_counter() - start)
    return statistics.median(bare), statistics.median(full)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--speed-samples", type=int, default=20)
    args = parser.parse_args()
    real: dict[str, dict[str, tuple[int, int]]] = {}
    if document_samples.available():
        print(f"real samples ({document_samples.SAMPLES}):")
        real = real_accuracy(args.workers)
        for kind, counts in real.items():
            print(f"{kind:<10} {'field':<26} exact")
            for name, (right, seen) in counts.items():
                print(f"{'':<10} {name:<26} {right}/{seen}")
    else:
        print(f"real samples: not found at {document_samples.SAMPLES}; generated specimens only")
    ids, licences = real.get("id_card", {}), real.get("licence", {})
    rates = accuracy(args.people, args.workers)
    print(f"{'field':<22} {'clean':>7} {'distorted':>9} {'hard':>6}")
    for name in sorted({n for _, n in rates}):
        clean, distorted, hard = (rates[(c, name)] for c in ("clean", "distorted", "hard"))
        print(f"{name:<22} {clean:>7.1%} {distorted:>9.1%} {hard:>6.1%}")
    bare, full = speed(args.speed_samples)
    documents = 3 * args.people
    print(
        f"bench-kyc-documents: "
        f"real_id_exact={_rate(ids, *ids):.3f} "
        f"real_licence_code={_rate(licences, 'credit_code', 'registration_number'):.3f} "
        f"real_licence_name={_rate(licences, 'company_name'):.3f} "
        f"real_licence_representative={_rate(licences, 'legal_representative'):.3f} "
        f"real_licence_apart={_rate(licences, document_samples.SCOPE_APART):.3f} "
        f"documents={documents} "
        f"id_number_clean={rates[('clean', 'id_number')]:.3f} "
        f"id_number_distorted={rates[('distorted', 'id_number')]:.3f} "
        f"name_clean={rates[('clean', 'name')]:.3f} "
        f"name_distorted={rates[('distorted', 'name')]:.3f} "
        f"credit_code_distorted={rates[('distorted', 'credit_code')]:.3f} "
        f"id_number_hard={rates[('hard', 'id_number')]:.3f} "
        f"name_hard={rates[('hard', 'name')]:.3f} "
        f"company_name_hard={rates[('hard', 'company_name')]:.3f} "
        f"read_ms={full * 1000:.0f} bare_ocr_ms={bare * 1000:.0f} read_ratio={full / bare:.2f}"
    )


if __name__ == "__main__":
    main()
