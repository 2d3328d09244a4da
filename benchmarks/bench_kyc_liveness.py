"""Passive liveness error rates and cost on the shared data.

    python -m benchmarks.bench_kyc_liveness [--data DIR] [--workers W]

Decisions. Bona fide presentations: every real face video in ../shared/data
(LivePortrait driving clips, the face_recognition stage clip, the Thai selfie
video), and the live photo image_T1 as a single image. Attack presentations:
the attack images in ../shared/data/antispoof (Silent-Face's print and phone
replay, HyperFAS's tablet, the Thai printed ID photos and phone replays) and the
still d19.jpg, each presented as a single image, as a picture held still in
front of the camera for three seconds (sensor noise), and as a picture moved by
hand (perspective sway of 2 % and 6 % of the frame).

APCER: share of attacks decided `live`. BPCER: share of bona fide presentations
decided `spoof`. `review` is neither accepted nor rejected; its share among bona
fide presentations is reported as review_bona_fide, and live_bona_fide_clips is
the share of real videos decided `live`.

MiniFASNet per set (kyc.face_pad), on every image or frame in which dlib finds
one face: pad_apcer is the share of attack images and frames scoring at or above
PAD_REVIEW (NUAA's 141 print frames among them), pad_bpcer_frames the share of
live frames and photos scoring below it, and pad_bpcer_clips the share of real
videos whose median falls below it: what the network would reject if it were a
gate on its own. Cost: the passive cues over a clip against computing the clip's
landmarks and MiniFASNet scores, which the active check does anyway, and
pad_share, the network's share of that per-frame analysis (measured by scoring
the first clip's frames a second time).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kyc import face_pad
from kyc.liveness import FrameMetrics, clip_metrics, frame_metrics
from kyc.passive import PAD_REVIEW, PassiveDecision, assess_clip, assess_file

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DRIVING = "video/LivePortrait/assets/examples/driving"
BONA_FIDE_CLIPS = (
    *(f"{DRIVING}/d{n}.mp4" for n in (0, 9, 11, 12, 13, 14, 18, 19, 20)),
    "video/face_recognition/examples/short_hamilton_clip.mp4",
    "antispoof/thai_selfie_pad/real/videos/real_1.mp4",
)
BONA_FIDE_IMAGE = "antispoof/Silent-Face-Anti-Spoofing/images/sample/image_T1.jpg"
ATTACK_IMAGES = (
    "antispoof/Silent-Face-Anti-Spoofing/images/sample/image_F1.jpg",
    "antispoof/Silent-Face-Anti-Spoofing/images/sample/image_F2.jpg",
    "antispoof/HyperFAS/data/fake_screen.png",
    f"{DRIVING}/d19.jpg",
    *(f"antispoof/thai_selfie_pad/spoof/print_id_photos/{n}.jpg" for n in (2, 7, 10, 11, 14)),
)
# MiniFASNet sets: name -> (glob under the data root, attack?). The Thai crops are
# cut tight around the face, which the network cannot judge (it needs the
# context): reported, not counted in the pad_ figures.
PAD_SETS = {
    "nuaa_print": ("antispoof/nuaa_print/spoof/*/*.jpg", True),
    "thai_print_id": ("antispoof/thai_selfie_pad/spoof/print_id_photos/*", True),
    "silent_face_attacks": ("antispoof/Silent-Face-Anti-Spoofing/images/sample/image_F*", True),
    "hyperfas_screen": ("antispoof/HyperFAS/data/fake_screen.png", True),
    "nuaa_live": ("antispoof/nuaa_print/real/*/*.jpg", False),
    "thai_selfies": ("antispoof/thai_selfie_pad/real/selfie_photos/*", False),
    "silent_face_live": ("antispoof/Silent-Face-Anti-Spoofing/images/sample/image_T*", False),
}
TIGHT_CROP_SETS = {
    "thai_replay_crops (tight)": (
        "antispoof/thai_selfie_pad/spoof/replay_phone_face_crops/*",
        True,
    ),
    "thai_live_crops (tight)": ("antispoof/thai_selfie_pad/real/face_crops_from_video/*", False),
}
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


def _clip(path: str) -> tuple[str, str, float, float, float | None]:
    started = time.perf_counter()
    metrics = clip_metrics(Path(path))
    landmarks = time.perf_counter() - started
    started = time.perf_counter()
    result = assess_clip(metrics)
    passive = time.perf_counter() - started
    return path, result.decision.value, landmarks, passive, result.real_probability


def _pad_share(path: str, frames: int = 30) -> float:
    """MiniFASNet's share of the per-frame analysis (landmarks, pose, score)."""
    capture = cv2.VideoCapture(path)
    whole = network = 0.0
    try:
        for _ in range(frames):
            ok, frame = capture.read()
            if not ok:
                break
            started = time.perf_counter()
            metrics = frame_metrics(frame, 0.0)
            whole += time.perf_counter() - started
            if metrics is not None:
                started = time.perf_counter()
                face_pad.real_probability(frame, metrics.landmarks)
                network += time.perf_counter() - started
    finally:
        capture.release()
    return network / whole if whole else 0.0


def _pad_score(path: str) -> float | None:
    """MiniFASNet's score of the one face in an image, or None without one."""
    image = cv2.imread(path)
    metrics = frame_metrics(image, 0.0) if image is not None else None
    return None if metrics is None else metrics.real_probability


def pad_table(
    pool: ProcessPoolExecutor, root: Path, sets: dict[str, tuple[str, bool]]
) -> dict[str, tuple[bool, int, int, int]]:
    """Set -> (attack?, images, with a face, errors at PAD_REVIEW)."""
    table = {}
    for name, (pattern, attack) in sets.items():
        files = sorted(str(path) for path in root.glob(pattern))
        scores = [score for score in pool.map(_pad_score, files) if score is not None]
        errors = sum((score >= PAD_REVIEW) == attack for score in scores)
        table[name] = (attack, len(files), len(scores), errors)
    return table


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
        pad = pad_table(pool, root, PAD_SETS)
        tight = pad_table(pool, root, TIGHT_CROP_SETS)
    pad_share = _pad_share(str(root / BONA_FIDE_CLIPS[0]))
    bona_fide = [(Path(p).name, d) for p, d, _l, _a, _r in clips]
    still = assess_file(root / BONA_FIDE_IMAGE).decision.value
    bona_fide.append((f"{Path(BONA_FIDE_IMAGE).name} image", still))
    print(f"{'presentation':<34} {'kind':<10} {'decision':<8} MiniFASNet median")
    for path, decision, _l, _a, real in clips:
        shown = "-" if real is None else f"{real:.3f}"
        print(f"{Path(path).name:<34} {'bona fide':<10} {decision:<8} {shown}")
    print(f"{bona_fide[-1][0]:<34} {'bona fide':<10} {still}")
    for name, decision in attacked:
        print(f"{name:<34} {'attack':<10} {decision}")
    print(f"\nMiniFASNet at {PAD_REVIEW}: {'set':<28} {'kind':<7} images face errors")
    for name, (attack, images, faces, errors) in {**pad, **tight}.items():
        kind = "attack" if attack else "live"
        print(f"{'':<22}{name:<28} {kind:<7} {images:>6} {faces:>4} {errors:>6}")
    apcer = sum(d == PassiveDecision.LIVE for _n, d in attacked) / len(attacked)
    bpcer = sum(d == PassiveDecision.SPOOF for _n, d in bona_fide) / len(bona_fide)
    review = sum(d == PassiveDecision.REVIEW for _n, d in bona_fide) / len(bona_fide)
    live_clips = sum(d == PassiveDecision.LIVE for _p, d, _l, _a, _r in clips) / len(clips)
    pad_attack = [row for row in pad.values() if row[0]]
    pad_live = [row for row in pad.values() if not row[0]]
    pad_apcer = sum(row[3] for row in pad_attack) / sum(row[2] for row in pad_attack)
    pad_bpcer_frames = sum(row[3] for row in pad_live) / sum(row[2] for row in pad_live)
    medians = [real for *_rest, real in clips]
    pad_bpcer_clips = sum(real is None or real < PAD_REVIEW for real in medians) / len(medians)
    landmarks = sum(c[2] for c in clips)
    passive = sum(c[3] for c in clips)
    print(
        f"bench-kyc-liveness: attacks={len(attacked)} bona_fide={len(bona_fide)} "
        f"apcer={apcer:.3f} bpcer={bpcer:.3f} review_bona_fide={review:.3f} "
        f"live_bona_fide_clips={live_clips:.3f} pad_apcer={pad_apcer:.3f} "
        f"pad_bpcer={pad_bpcer_clips:.3f} pad_bpcer_frames={pad_bpcer_frames:.3f} "
        f"passive_ratio={(landmarks + passive) / landmarks:.3f} pad_share={pad_share:.2f}"
    )


if __name__ == "__main__":
    main()
