"""Face match on real photos (MIT fixtures in tests/data/faces), on the ID card
portrait of a generated specimen, and on the real clips in ../shared/data."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kyc import specimens
from kyc.face_thresholds import MATCH_THRESHOLD, REVIEW_THRESHOLD
from kyc.facematch import compare, samples_from
from kyc.faces import Decision, NoUsableFace, decide, head_crop, sample

FIXTURES = Path(__file__).parent / "data" / "faces"
BIDEN_A, BIDEN_B = FIXTURES / "biden_biden.jpg", FIXTURES / "biden_biden2.jpg"
KIT_A, KIT_B = FIXTURES / "kit_harington_john1.jpg", FIXTURES / "kit_harington_john2.jpg"
SHARED = Path(os.environ.get("SIGNROOM_SHARED_DATA", Path(__file__).parents[2] / "shared/data"))
DRIVING = SHARED / "video/LivePortrait/assets/examples/driving"


def load(path: Path) -> np.ndarray[Any, Any]:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def test_thresholds_are_calibrated_not_dlibs_default() -> None:
    # dlib's published 0.6 accepts too many impostors to be a "match" here.
    assert MATCH_THRESHOLD < 0.6
    assert MATCH_THRESHOLD < REVIEW_THRESHOLD
    assert decide(MATCH_THRESHOLD) is Decision.MATCH
    assert decide(REVIEW_THRESHOLD) is Decision.REVIEW
    assert decide(REVIEW_THRESHOLD + 0.001) is Decision.NO_MATCH


@pytest.mark.parametrize(
    ("a", "b", "decision"),
    [
        (BIDEN_A, BIDEN_B, "match"),
        (KIT_A, KIT_B, "match"),
        (BIDEN_A, KIT_A, "no_match"),
        (BIDEN_B, KIT_B, "no_match"),
    ],
)
def test_same_people_match_and_different_people_do_not(a: Path, b: Path, decision: str) -> None:
    assert compare(samples_from(a), samples_from(b)).decision == decision


def test_the_portrait_on_a_generated_id_card_matches_its_source_photo() -> None:
    person = specimens.random_identity(random.Random(7), today=date(2026, 11, 29))
    photo = head_crop(load(BIDEN_A))
    card = specimens.draw_id_front(person, portrait=photo)
    portrait = sample(card, portrait=True)
    assert compare([portrait], samples_from(BIDEN_B)).decision == "match"
    assert compare([portrait], samples_from(KIT_A)).decision == "no_match"


def test_live_frames_refuse_what_cannot_be_compared() -> None:
    blank = np.full((480, 640, 3), 128, np.uint8)
    with pytest.raises(NoUsableFace, match="no face"):
        sample(blank)
    image = load(BIDEN_B)
    two_faces = np.hstack([image, image])
    with pytest.raises(NoUsableFace, match="more than one face"):
        sample(two_faces)
    small = cv2.resize(image, (120, 120))
    with pytest.raises(NoUsableFace, match="too small"):
        sample(small)
    dark = (image.astype(np.float32) * 0.12).astype(np.uint8)
    with pytest.raises(NoUsableFace, match="too dark"):
        sample(dark)
    blurred = cv2.GaussianBlur(image, (0, 0), 9)
    with pytest.raises(NoUsableFace):
        sample(blurred)


@pytest.mark.skipif(not DRIVING.is_dir(), reason=f"shared test videos not found at {SHARED}")
def test_a_still_matches_its_own_video_and_not_another_persons() -> None:
    still = samples_from(DRIVING / "d19.jpg")
    assert compare(still, samples_from(DRIVING / "d18.mp4")).decision == "match"
    assert compare(still, samples_from(DRIVING / "d13.mp4")).decision == "no_match"


def test_cli_pairs_file_one_line_per_pair(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    pairs.write_text(f"a,b\n{BIDEN_A},{BIDEN_B}\n{BIDEN_A},{KIT_A}\n{broken},{KIT_A}\n")
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "kyc", "face-match", "--pairs", str(pairs)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("decision") for r in rows] == ["match", "no_match", None]
    assert 0 < rows[0]["distance"] <= MATCH_THRESHOLD
    assert "not a readable image" in rows[2]["error"]
