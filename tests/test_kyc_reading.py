"""Reading documents with the real PP-OCR models: generated specimens with known
truth, the real synthetic ID card in ../shared/data when present, the CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from kyc.checks import id_card_checks, licence_checks
from kyc.errors import UnreadableImage
from kyc.fields import Field
from kyc.reading import DocumentReading, read_id_card, read_licence
from kyc.rectify import find_document, flatten
from tests import document_samples, specimens
from tests.shared_data import SHARED

TODAY = date(2026, 11, 29)
SHARED_ID = SHARED / "iddocs/idcard_generator/docs/images/result_color.png"


def png(image: object) -> bytes:
    ok, data = cv2.imencode(".png", image)  # type: ignore[call-overload]
    assert ok
    return bytes(data)


def read_values(reading: DocumentReading) -> dict[str, str]:
    return {k: v.value for k, v in reading.fields.items()}


@pytest.mark.parametrize("seed", [11, 12])
def test_generated_id_card_and_licence_are_read_exactly(seed: int) -> None:
    rng = random.Random(seed)
    person = specimens.random_identity(rng, today=TODAY)
    company = specimens.random_company(rng, person.name, today=TODAY)
    truth = person.expected_fields()
    front = read_id_card(png(specimens.draw_id_front(person)), today=TODAY)
    back = read_id_card(png(specimens.draw_id_back(person)), today=TODAY)
    assert read_values(front) | read_values(back) == truth
    licence = read_licence(png(specimens.draw_licence(company)))
    assert read_values(licence) == company.expected_fields()
    assert all(check.passed for check in front.checks + back.checks + licence.checks)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_distorted_photos_still_yield_name_and_number(seed: int) -> None:
    rng = random.Random(seed)
    person = specimens.random_identity(rng, today=TODAY)
    photo = specimens.distort(specimens.draw_id_front(person), rng)
    reading = read_id_card(png(photo), today=TODAY, expected_name=person.name)
    fields = read_values(reading)
    assert fields["id_number"] == person.id_number
    assert fields["name"] == person.name


def test_checks_name_each_mismatch_without_the_id_number() -> None:
    fields = {
        "name": Field("张三", 0.99),
        "sex": Field("男", 0.99),
        "birth_date": Field("1995-07-18", 0.99),
        "id_number": Field("513701199507176346", 0.99),
        "valid_until": Field("2020-12-12", 0.99),
    }
    checks = {c.name: c for c in id_card_checks(fields, today=TODAY, expected_name="李四")}
    assert {name for name, c in checks.items() if not c.passed} == {
        "birth_date_matches_id_number",
        "sex_matches_id_number",
        "id_card_not_expired",
        "name_matches_application",
    }
    assert checks["id_number_valid"].passed
    assert "李四" in checks["name_matches_application"].message
    assert all("513701199507176346" not in c.message for c in checks.values())


def test_licence_checks_against_the_application() -> None:
    fields = {
        "company_name": Field("福州星河科技有限公司", 0.99),
        "credit_code": Field("91350100M000100Y44", 0.99),
        "legal_representative": Field("张三", 0.99),
    }
    checks = {
        c.name: c
        for c in licence_checks(
            fields,
            expected_company="福州星河科技有限公司",
            expected_credit_code="91350100M000100Y43",
            expected_legal_representative="张 三",
        )
    }
    assert not checks["credit_code_valid"].passed
    assert not checks["credit_code_matches_application"].passed
    assert checks["company_matches_application"].passed
    assert checks["legal_representative_matches_application"].passed


@pytest.mark.skipif(not SHARED_ID.is_file(), reason=f"shared test data not found at {SHARED}")
def test_the_shared_synthetic_id_card_matches_its_ground_truth() -> None:
    reading = read_id_card(SHARED_ID.read_bytes(), today=TODAY, expected_name="张三")
    assert read_values(reading) == {
        "name": "张三",
        "sex": "男",
        "ethnicity": "汉",
        "birth_date": "1995-07-17",
        "address": "四川省成都市武侯区益州大道中段722号复城国际",
        "id_number": "513701199507176346",
        "issuing_authority": "四川省成都市锦江分局",
        "valid_from": "2010-01-01",
        "valid_until": "2020-12-12",
    }
    failed = {c.name for c in reading.checks if not c.passed}
    # The generator printed 男 with an even sequence digit (女), and the card expired.
    assert failed == {"sex_matches_id_number", "id_card_not_expired"}


def _real_outcomes(kind: str) -> dict[str, list[bool]]:
    outcomes: dict[str, list[bool]] = {}
    for sample in document_samples.samples():
        if sample.kind != kind:
            continue
        data = sample.image.read_bytes()
        reading = read_id_card(data, today=TODAY) if kind == "id_card" else read_licence(data)
        for name, right in document_samples.score(sample, reading.fields).items():
            outcomes.setdefault(name, []).append(right)
    return outcomes


@pytest.mark.skipif(
    not document_samples.available(),
    reason=f"real ID card samples not found at {document_samples.SAMPLES}",
)
def test_real_id_cards_are_read_as_printed() -> None:
    """Front and back on one page, turned 90 and 180 degrees, low resolution with
    the number cut at the edge, a diagonal watermark, a photo of a printout."""
    outcomes = _real_outcomes("id_card")
    assert len(outcomes["name"]) >= 6
    for name in ("name", "sex", "ethnicity", "id_number"):
        assert all(outcomes[name]), name
    every = [right for results in outcomes.values() for right in results]
    assert sum(every) / len(every) >= 0.9


@pytest.mark.skipif(
    not document_samples.available(),
    reason=f"real licence samples not found at {document_samples.SAMPLES}",
)
def test_real_licences_yield_code_name_and_representative() -> None:
    """Horizontal and vertical 三证合一 layouts, 个体工商户, a partnership, old
    注册号 licences, frames, watermarks, pale and grey scans."""
    outcomes = _real_outcomes("licence")
    codes = outcomes["credit_code"] + outcomes["registration_number"]
    assert len(codes) >= 11
    for results in (codes, outcomes["company_name"], outcomes["legal_representative"]):
        assert sum(results) >= len(results) - 1
    assert all(outcomes[document_samples.SCOPE_APART])


@pytest.mark.parametrize(
    "data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, b"\xff\xd8\xff" + b"x" * 99]
)
def test_unreadable_files_raise_a_clear_error(data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        read_id_card(data, today=TODAY)


def test_cli_prints_json_and_fails_cleanly(tmp_path: Path) -> None:
    rng = random.Random(31)
    company = specimens.random_company(rng, "张三", today=TODAY)
    image = tmp_path / "licence.png"
    image.write_bytes(png(specimens.draw_licence(company)))
    command = [
        sys.executable,
        "-m",
        "cli",
        "kyc",
        "read-licence",
        str(image),
        "--expect-credit-code",
        company.credit_code,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["fields"]["credit_code"]["value"] == company.credit_code
    assert 0 < output["fields"]["credit_code"]["confidence"] <= 1
    assert {c["name"]: c["passed"] for c in output["checks"]} == {
        "credit_code_valid": True,
        "credit_code_matches_application": True,
    }
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    failed = subprocess.run(
        [sys.executable, "-m", "cli", "kyc", "read-id", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode == 1
    assert json.loads(failed.stderr)["error"]
    assert "Traceback" not in failed.stderr


@pytest.mark.parametrize(
    "rotation", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE]
)
def test_cards_photographed_sideways_or_upside_down_are_turned_upright(rotation: int) -> None:
    rng = random.Random(51)
    person = specimens.random_identity(rng, today=TODAY)
    photo = cv2.rotate(specimens.distort(specimens.draw_id_front(person), rng), rotation)
    fields = read_values(read_id_card(png(photo), today=TODAY))
    assert fields["id_number"] == person.id_number
    assert fields["name"] == person.name


@pytest.mark.parametrize("upside_down", ["back", "front"])
def test_both_sides_scanned_on_one_page_are_read_each_upright(upside_down: str) -> None:
    rng = random.Random(53)
    person = specimens.random_identity(rng, today=TODAY)
    front, back = specimens.draw_id_front(person), specimens.draw_id_back(person)
    if upside_down == "back":
        back = cv2.rotate(back, cv2.ROTATE_180)
    else:
        front = cv2.rotate(front, cv2.ROTATE_180)
    height, width = front.shape[:2]
    page = np.full((2 * height + 240, width + 160, 3), 215, np.uint8)
    page[80 : 80 + height, 80 : 80 + width] = front
    page[160 + height : 160 + 2 * height, 80 : 80 + width] = back
    assert read_values(read_id_card(png(page), today=TODAY)) == person.expected_fields()


def test_the_card_outline_is_found_and_flattened() -> None:
    rng = random.Random(52)
    card = specimens.draw_id_front(specimens.random_identity(rng, today=TODAY))
    photo = specimens.distort(card, rng)
    corners = find_document(photo)
    assert corners is not None
    flat = flatten(photo)
    height, width = flat.shape[:2]
    # Close to the card's own proportions (side lengths measured on a tilted photo
    # understate the far side, so not exact), and no table around it.
    assert abs(width / height - card.shape[1] / card.shape[0]) < 0.1
    assert flat.shape[0] < photo.shape[0]
    # A plain photo with no outline is left alone.
    plain = np.full((480, 640, 3), 200, np.uint8)
    assert find_document(plain) is None
    assert flatten(plain) is plain


@pytest.mark.parametrize("seed", [61, 62])
def test_what_real_copies_show_is_drawn_and_read(seed: int) -> None:
    """The generator's hard cases, after the real samples: the vertical licence
    with letter-spaced labels under a stamp and a watermark, a grey copy of the
    horizontal one, both sides of a card on one watermarked grey copy. The
    fields a loan turns on are asserted here; bench-kyc-documents scores every
    field (a watermark can hide a glyph of a long address)."""
    rng = random.Random(seed)
    person = specimens.random_identity(rng, today=TODAY)
    company = specimens.random_company(rng, person.name, today=TODAY)
    vertical = specimens.watermark(specimens.draw_licence(company, vertical=True), rng)
    copy = specimens.hard_copy(specimens.draw_licence(company), rng)
    for licence in (vertical, copy):
        fields = read_values(read_licence(png(specimens.stamp(licence, rng))))
        for name in ("company_name", "credit_code", "legal_representative"):
            assert fields.get(name) == company.expected_fields()[name], (name, fields)
    page = specimens.draw_id_page(person, upside_down="front")
    page = specimens.hard_copy(specimens.watermark(page, rng), rng)
    fields = read_values(read_id_card(png(page), today=TODAY))
    for name in ("name", "id_number", "issuing_authority", "valid_until"):
        assert fields.get(name) == person.expected_fields()[name], (name, fields)
