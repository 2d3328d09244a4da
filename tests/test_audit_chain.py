"""The canonical encoding and hash of an entry are pinned: changing them would make
every stored log unverifiable."""

import hashlib
from datetime import UTC, datetime

import pytest

from audit.chain import GENESIS_HASH, canonical_json, compute_entry_hash, hashed_fields
from audit.errors import NonCanonicalDetails


def test_canonical_json_sorts_keys_has_no_whitespace_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": {"d": [True, None], "c": "法定代表人"}}) == (
        '{"a":{"c":"法定代表人","d":[true,null]},"b":1}'
    )


@pytest.mark.parametrize(
    "value", [1.5, {"x": float("nan")}, {"x": b"bytes"}, {1: "int key"}, {"x": {1, 2}}]
)
def test_values_without_one_encoding_are_refused(value: object) -> None:
    with pytest.raises(NonCanonicalDetails):
        canonical_json(value)


def test_entry_hash_known_answer() -> None:
    fields = hashed_fields(
        seq=1,
        at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        actor="user:1",
        role="manager",
        action="application.created",
        application_id="a1",
        request_id=None,
        details={"amount_fen": 15000000, "名称": "示例"},
        prev_hash=GENESIS_HASH,
    )
    expected_text = (
        '{"action":"application.created","actor":"user:1","application_id":"a1",'
        '"at":"2026-01-02T03:04:05.000006Z","details":{"amount_fen":15000000,"名称":"示例"},'
        f'"prev_hash":"{GENESIS_HASH}","request_id":null,"role":"manager","seq":1}}'
    )
    assert canonical_json(fields) == expected_text
    assert compute_entry_hash(fields) == hashlib.sha256(expected_text.encode()).hexdigest()
