"""All of the identity verification benchmarks, and one summary line.

    python -m benchmarks.bench_kyc

Runs bench_kyc_documents (field accuracy on the real samples and on generated
documents, OCR cost ratio), bench_kyc_faces (FAR/FRR and decisions per face set
and engine, verify cost ratio), bench_kyc_liveness (APCER/BPCER of the decisions
and of MiniFASNet per set) and bench_kyc_loop (event-loop lag under load), each
in its own process with its own table, then prints `bench-kyc:` with the
figures the targets are stated in.
"""

from __future__ import annotations

import subprocess
import sys

PARTS = {
    "bench_kyc_documents": (
        "real_id_exact",
        "real_licence_name",
        "real_licence_code",
        "real_licence_representative",
        "id_number_clean",
        "id_number_distorted",
        "name_clean",
        "name_distorted",
        "read_ratio",
    ),
    # arcface's figures by their plain names, dlib's prefixed (bench_kyc_faces).
    "bench_kyc_faces": (
        "asian_far_match",
        "asian_gen_match",
        "asian_gen_no_match",
        "card_gen_match",
        "card_far_match",
        "far_match",
        "lfw_far_match",
        "lfw_frr_match",
        "verify_ratio",
        "dlib_asian_far_match",
        "dlib_asian_gen_match",
        "dlib_asian_gen_no_match",
        "dlib_verify_ratio",
    ),
    "bench_kyc_liveness": (
        "apcer",
        "bpcer",
        "review_bona_fide",
        "live_bona_fide_clips",
        "pad_apcer",
        "pad_bpcer",
    ),
    "bench_kyc_loop": ("busy_p99_ms",),
}


def summary_of(output: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The chosen figures from a part's last line (`bench-...: key=value ...`)."""
    last = output.strip().splitlines()[-1]
    figures = dict(item.split("=", 1) for item in last.split(":", 1)[1].split())
    return {key: figures[key] for key in keys}


def main() -> int:
    figures: dict[str, str] = {}
    for module, keys in PARTS.items():
        run = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}"],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        if run.returncode != 0:
            print(f"bench-kyc: failed={module}")
            return 1
        figures.update(summary_of(run.stdout, keys))
    print("bench-kyc: " + " ".join(f"{key}={value}" for key, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
