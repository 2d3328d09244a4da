"""The real ID cards and business licences in ../shared/data/iddocs/samples, with
their ground truth mapped onto our field names, and per-field scoring of a
reading against it. Shared by the tests and `make bench-kyc-documents`; the
images never enter the repository (see ../shared/data/SOURCES.md)."""

from __future__ import annotations

import difflib
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kyc.documents.normalise import any_date
from kyc.fields import Fields
from tests.shared_data import SHARED

SAMPLES = SHARED / "iddocs/samples"

ID_FIELDS = (
    "name",
    "sex",
    "ethnicity",
    "birth_date",
    "address",
    "id_number",
    "issuing_authority",
    "valid_from",
    "valid_until",
)
LICENCE_FIELDS = (
    "credit_code",
    "registration_number",
    "company_name",
    "company_type",
    "legal_representative",
    "registered_capital",
    "established",
    "address",
)
# A business scope runs to hundreds of characters over many lines; one misread
# glyph in it says little. It is scored by similarity, and separately for being
# kept apart from the address printed beside it.
SCOPE_SIMILARITY = "business_scope~90%"
SCOPE_APART = "address_and_scope_apart"
SCOPE_MIN_RATIO = 0.9


@dataclass(frozen=True, slots=True)
class Sample:
    image: Path
    kind: str  # "id_card" | "licence"
    expected: dict[str, str]
    business_scope: str | None

    @property
    def name(self) -> str:
        return self.image.name


def available() -> bool:
    return SAMPLES.is_dir()


def samples() -> list[Sample]:
    """Every sample with a ground-truth JSON, ID cards first."""
    found = []
    for truth_file in sorted(SAMPLES.glob("*/*.json")):
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        image = truth_file.with_name(truth["file"])
        if truth["doc_type"] == "id_card":
            found.append(Sample(image, "id_card", _id_expected(truth["ground_truth"]), None))
        else:
            ground = truth["ground_truth"]
            found.append(
                Sample(image, "licence", _licence_expected(ground), ground.get("business_scope"))
            )
    return sorted(found, key=lambda sample: (sample.kind != "id_card", sample.name))


def _id_expected(ground: dict[str, Any]) -> dict[str, str]:
    expected = dict(ground.get("front", {}))
    back = ground.get("back", {})
    for ours, theirs in (
        ("issuing_authority", "issuing_authority"),
        ("valid_from", "valid_from"),
        ("valid_until", "valid_to"),
    ):
        if theirs in back:
            expected[ours] = back[theirs]
    return {name: expected[name] for name in ID_FIELDS if name in expected}


def _licence_expected(ground: dict[str, Any]) -> dict[str, str]:
    expected = {name: ground[name] for name in LICENCE_FIELDS if name in ground}
    if "establishment_date" in ground:
        established = ground["establishment_date"]
        expected["established"] = any_date(established) or established
    return expected


def same_text(a: str, b: str) -> bool:
    return _plain(a) == _plain(b)


def _plain(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def score(sample: Sample, fields: Fields) -> dict[str, bool]:
    """Field name -> read exactly, for every field the sample's truth gives."""
    got = {name: field.value for name, field in fields.items()}
    outcome = {name: same_text(got.get(name, ""), value) for name, value in sample.expected.items()}
    if sample.business_scope is not None:
        scope = got.get("business_scope", "")
        ratio = difflib.SequenceMatcher(None, _plain(scope), _plain(sample.business_scope)).ratio()
        outcome[SCOPE_SIMILARITY] = ratio >= SCOPE_MIN_RATIO
        address = sample.expected.get("address", "")
        outcome[SCOPE_APART] = _plain(address)[:6] not in _plain(scope) and _plain(
            sample.business_scope
        )[:6] not in _plain(got.get("address", ""))
    return outcome
