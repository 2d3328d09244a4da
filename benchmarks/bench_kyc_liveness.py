"""Passive liveness error rates and cost on the shared data.

    python -m benchmarks.bench_kyc_liveness [--data DIR] [--workers W]

Bona fide presentations: the real face videos in ../shared/data/video (LivePortrait
driving clips d12, d13, d14, d18, d20 and the face_recognition stage clip), and the
live photo image_T1 as a single image. Attack presentations: the three attack
images in ../shared/data/antispoof and the still d19.jpg, each presented as a single
image, as a picture held still in front of the camera for three seconds (sensor
noise), and as a picture moved by hand (perspective sway of 2 % and 6 % of the
frame).

APCER: share of attacks decided `live`. BPCER: share of bona fide presentations
decided `spoof`. `review` is neither accepted nor rejected; its share among bona
fide presentations is reported as review_bona_fide. Cost: the passive cues over a
clip against computing the clip's landmarks, which the active check does anyway.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kyc.liveness import FrameMetrics, clip_metrics, frame_metrics
from kyc.passive import PassiveDecision, assess_clip, assess_file

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BONA_FIDE_CLIPS = (
    "video/LivePortrait/assets/examples/driving/d12.mp4",
    "video/LivePortrait/assets/examples/driving/d13.mp4",
    "video/LivePortrait/assets/examples/driving/d14.mp4",
    "video/LivePortrait/assets/examples/driving/d18.mp4",
    "video/LivePortrait/assets/examples/driving/d20.mp4",
    "video/face_recognition/examples/short_hamilton_clip.mp4",
)
BONA_FIDE_IMAGE = "antispoof/Silent-Face-Anti-Spoofing/images/sample/image_T1.jpg"
ATTACK_IMAGES = (
    "antispoof/Silent-Face-Anti-Spoofing/images/sample/image_F1.jpg",
    "antispoof/Silent-Face-Anti-Spoofing/images/sample/image_F2.jpg",
    "antispoof/HyperFAS/data/fake_screen.png",
    "video/LivePortrait/assets/examples/driving/d19.jpg",
)
SWAYS = (0.0, 0.02, 0.06)


def held_picture(image: np.ndarray[Any, Any], sway: float) -> list[FrameMetrics]:
    """Three seconds at 15 fps of a picture in front of the camera."""
    rng = np.random.default_rng(11)
    height, width = image.shape[:2]
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    found = []
    for i in range(45):
        phase = i / 45 * 2 * np.pi
        shift = np.array(
            [
                [np.sin(phase + k) * sway * width, np.cos(1.3 * phase + k) * sway * height]
                for k in range(4)
            ],
            np.float32,
        )
        warp = cv2.getPerspectiveTransform(corners, corners + shift)
        frame = cv2.warpPerspective(image, warp, (width, height), borderMode=cv2.BORDER_REPLICATE)
        noisy = np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
        if (metrics := frame_metrics(noisy, i / 15)) is not None:
            found.append(metrics)
    return found


def _clip(path: str) -> tuple[str, str, float, float]:
    started = time.perf_counter()
    metrics = clip_metrics(Path(path))
    landmarks = time.perf_counter() - started
    started = time.perf_counter()
    decision = assess_clip(metrics).decision
    return path, decision.value, landmarks, time.perf_counter() - started


def _attack(job: tuple[str, float | None]) -> tuple[str, str]:
    path, sway = job
    if sway is None:
        return f"{Path(path).name} image", assess_file(Path(path)).decision.value
    image = cv2.imread(path)
    assert image is not None, path
    return f"{Path(path).name} sway {sway}", assess_clip(held_picture(image, sway)).decision.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root: Path = args.data
    if not (root / "antispoof").is_dir():
        raise SystemExit(f"shared data not found at {root}; pass --data")
    attacks = [(str(root / p), s) for p in ATTACK_IMAGES for s in (None, *SWAYS)]
    with ProcessPoolExecutor(args.workers) as pool:
        clips = list(pool.map(_clip, [str(root / p) for p in BONA_FIDE_CLIPS]))
        attacked = list(pool.map(_attack, attacks))
    bona_fide = [(Path(p).name, d) for p, d, _l, _a in clips]
    still = assess_file(root / BONA_FIDE_IMAGE).decision.value
    bona_fide.append((f"{Path(BONA_FIDE_IMAGE).name} image", still))
    print(f"{'presentation':<34} {'kind':<10} decision")
    for name, decision in bona_fide:
        print(f"{name:<34} {'bona fide':<10} {decision}")
    for name, decision in attacked:
        print(f"{name:<34} {'attack':<10} {decision}")
    apcer = sum(d == PassiveDecision.LIVE for _n, d in attacked) / len(attacked)
    bpcer = sum(d == PassiveDecision.SPOOF for _n, d in bona_fide) / len(bona_fide)
    review = sum(d == PassiveDecision.REVIEW for _n, d in bona_fide) / len(bona_fide)
    landmarks = sum(c[2] for c in clips)
    passive = sum(c[3] for c in clips)
    print(
        f"bench-kyc-liveness: attacks={len(attacked)} bona_fide={len(bona_fide)} "
        f"apcer={apcer:.3f} bpcer={bpcer:.3f} review_bona_fide={review:.3f} "
        f"passive_ratio={(landmarks + passive) / landmarks:.3f}"
    )


if __name__ == "__main__":
    main()
