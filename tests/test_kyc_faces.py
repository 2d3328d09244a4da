"""Face match on real photos (MIT fixtures in tests/data/faces), on the ID card
portrait of a generated specimen, and on the real clips in ../shared/data, with
each face engine; the engines' own pieces (SCRFD decoding, alignment, a face that
fills the frame, a model without thresholds)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from kyc.errors import EngineUnavailable, NoUsableFace
from kyc.face_arcface import ARCFACE_POINTS, align, similarity_transform
from kyc.face_engine import FaceConfig, describe, engine
from kyc.face_thresholds import ARCFACE_W600K_MBF, DLIB_RESNET, thresholds_for
from kyc.facematch import compare, samples_from
from kyc.faces import Decision, decide, head_crop, sample
from tests import specimens
from tests.shared_data import SHARED

FIXTURES = Path(__file__).parent / "data" / "faces"
BIDEN_A, BIDEN_B = FIXTURES / "biden_biden.jpg", FIXTURES / "biden_biden2.jpg"
KIT_A, KIT_B = FIXTURES / "kit_harington_john1.jpg", FIXTURES / "kit_harington_john2.jpg"
DRIVING = SHARED / "video/LivePortrait/assets/examples/driving"


def load(path: Path) -> np.ndarray[Any, Any]:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


@pytest.fixture(params=["arcface", "dlib"])
def face_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test with this fixture runs once per engine."""
    name: str = request.param
    monkeypatch.setenv("SIGNROOM_FACE_ENGINE", name)
    return name


def test_thresholds_belong_to_the_model(face_engine: str) -> None:
    model = engine().description
    assert model.engine == face_engine
    assert model.sha256 == {"dlib": DLIB_RESNET, "arcface": ARCFACE_W600K_MBF}[face_engine]
    limits = thresholds_for(model, "")
    assert limits.match < limits.review
    assert decide(limits.match) is Decision.MATCH
    assert decide(limits.review) is Decision.REVIEW
    assert decide(limits.review + 0.001) is Decision.NO_MATCH
    if face_engine == "dlib":
        # dlib's published 0.6, and LFW's 0.56, let East Asian impostors through.
        assert limits.match < 0.4


# What each engine decides on these Western pairs: ArcFace matches them; dlib's
# thresholds, calibrated to hold on East Asian faces, send them to a person.
GENUINE = {"arcface": "match", "dlib": "review"}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (BIDEN_A, BIDEN_B, True),
        (KIT_A, KIT_B, True),
        (BIDEN_A, KIT_A, False),
        (BIDEN_B, KIT_B, False),
    ],
)
def test_same_people_match_and_different_people_do_not(
    face_engine: str, a: Path, b: Path, same: bool
) -> None:
    expected = GENUINE[face_engine] if same else "no_match"
    assert compare(samples_from(a), samples_from(b)).decision == expected


def test_a_model_without_thresholds_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bank's own model runs only with thresholds calibrated for it."""
    packaged = engine_model_path()
    own = tmp_path / "bank-model.onnx"
    shutil.copyfile(packaged, own)  # the same network...
    monkeypatch.setenv("SIGNROOM_FACE_ENGINE", "arcface")
    monkeypatch.setenv("SIGNROOM_FACE_MODEL", str(own))
    # ...so the same hash: calibrated. A changed file is another model.
    assert thresholds_for(engine().description, "").match > 0
    other = tmp_path / "retrained.onnx"
    other.write_bytes(packaged.read_bytes()[:-1] + b"\x00")
    description = describe(FaceConfig("arcface", str(other)))
    with pytest.raises(EngineUnavailable, match="kyc calibrate"):
        thresholds_for(description, "")
    written = tmp_path / "thresholds.json"
    written.write_text(json.dumps({"sha256": description.sha256, "match": 0.5, "review": 0.6}))
    limits = thresholds_for(description, str(written))
    assert (limits.match, limits.review) == (0.5, 0.6)
    # A file written for another model leaves the committed thresholds in force.
    assert thresholds_for(engine().description, str(written)).match != 0.5
    written.write_text("{not json")
    with pytest.raises(EngineUnavailable, match="unreadable"):
        thresholds_for(description, str(written))


def engine_model_path() -> Path:
    from kyc.face_arcface import PACKAGED_MODEL, packaged_file

    return packaged_file(PACKAGED_MODEL)


def test_a_model_that_is_not_arcface_shaped_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kyc.face_arcface import PACKAGED_DETECTOR, packaged_file

    monkeypatch.setenv("SIGNROOM_FACE_ENGINE", "arcface")
    monkeypatch.setenv("SIGNROOM_FACE_MODEL", str(packaged_file(PACKAGED_DETECTOR)))
    with pytest.raises(EngineUnavailable, match="not the ArcFace input"):
        engine()
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    monkeypatch.setenv("SIGNROOM_FACE_MODEL", str(broken))
    with pytest.raises(EngineUnavailable, match="cannot load"):
        engine()


def test_the_similarity_transform_recovers_a_known_one() -> None:
    angle, scale, shift = np.radians(12), 1.7, np.array([31.0, -8.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = (ARCFACE_POINTS - shift) @ np.linalg.inv(scale * rotation).T
    matrix = similarity_transform(source, ARCFACE_POINTS)
    np.testing.assert_allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_arcface_aligns_the_eyes_onto_its_template(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNROOM_FACE_ENGINE", "arcface")
    image = load(BIDEN_B)
    face = engine().detect(image, small=False)[0]
    assert face.eye_a[0] < face.eye_b[0] and face.eye_a[1] < face.nose[1]
    aligned = align(image, np.asarray(face.handle))
    assert aligned.shape == (112, 112, 3)
    # Detected again on the aligned face, the eyes sit where ArcFace expects them.
    again = engine().detect(cv2.resize(aligned, (448, 448)), small=False)[0]
    np.testing.assert_allclose(np.array(again.eye_a) / 4, ARCFACE_POINTS[0], atol=4)
    np.testing.assert_allclose(np.array(again.eye_b) / 4, ARCFACE_POINTS[1], atol=4)


def test_a_face_that_fills_the_frame_is_still_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tight crops (forehead and chin cut) defeat the detector; a padded copy does not."""
    monkeypatch.setenv("SIGNROOM_FACE_ENGINE", "arcface")
    image = load(BIDEN_B)
    left, top, right, bottom = engine().detect(image, small=False)[0].box
    height = bottom - top
    tight = image[top + height // 5 : bottom - height // 8, left:right].copy()
    face = engine().detect(tight, small=False)[0]
    assert 0 <= face.eye_a[0] < face.eye_b[0] <= tight.shape[1]
    whole = sample(image, portrait=True)
    cut = sample(tight, portrait=True)
    assert compare([whole], [cut]).decision == "match"


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
        [sys.executable, "-m", "cli", "kyc", "face-match", "--pairs", str(pairs)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("decision") for r in rows] == ["match", "no_match", None]
    assert 0 < rows[0]["distance"] <= thresholds_for(engine().description, "").match
    assert "not a readable image" in rows[2]["error"]


def test_cli_calibrates_a_model_from_labelled_pairs(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    pairs = tmp_path / "pairs.csv"
    rows = [
        (BIDEN_A, BIDEN_B, "yes"),
        (KIT_A, KIT_B, "1"),
        (BIDEN_A, KIT_A, "no"),
        (BIDEN_A, KIT_B, "0"),
        (BIDEN_B, KIT_A, "false"),
        (BIDEN_B, KIT_B, "no"),
        (broken, KIT_A, "no"),
    ]
    pairs.write_text("a,b,same\n" + "".join(f"{a},{b},{same}\n" for a, b, same in rows))
    written = tmp_path / "thresholds.json"
    command = [sys.executable, "-m", "cli", "kyc", "calibrate", "--pairs", str(pairs)]
    result = subprocess.run(
        [*command, "--write", str(written)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    distances = {
        same: [
            compare(samples_from(a), samples_from(b)).distance
            for a, b, s in rows[:6]
            if (s in ("yes", "1")) is same
        ]
        for same in (True, False)
    }
    assert max(distances[True]) <= document["match"] < min(distances[False])
    assert document["review"] == document["match"]  # no genuine pair lies beyond it
    assert (document["pairs"], document["genuine"], document["impostor"]) == (6, 2, 4)
    assert "not a readable image" in document["unusable"][str(broken)]
    assert document["bands"]["imp_match"] == 0.0 and document["bands"]["gen_match"] == 1.0
    assert document["sha256"] == engine().description.sha256
    applied = thresholds_for(engine().description, str(written))
    assert (applied.match, applied.review) == (document["match"], document["review"])
    pairs.write_text(f"a,b,same\n{BIDEN_A},{BIDEN_B},maybe\n")
    refused = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert refused.returncode == 1 and "cannot read pairs" in refused.stderr
