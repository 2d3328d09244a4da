"""The audit chain's canonical encoding and hashing (pure functions).

entry_hash = SHA-256 over the canonical JSON of every field of the entry including
`prev_hash`, so an entry commits to the whole history before it. Canonical JSON:
object keys sorted, no whitespace, UTF-8, and only value types with one encoding
(str, int, bool, null, lists and objects of these). Floats are refused: amounts and
rates travel as strings or integers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit.errors import NonCanonicalDetails

GENESIS_HASH = "0" * 64

JSONValue = str | int | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NonCanonicalDetails(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise NonCanonicalDetails(f"{path}: {type(value).__name__} has no canonical encoding")


def canonical_json(value: Any) -> str:
    """Canonical JSON text of `value`; NonCanonicalDetails if it cannot have one."""
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(at: datetime) -> str:
    """UTC time with microseconds, the form hashed into entries."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    application_id: str | None
    request_id: str | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str

    def hashed_fields(self) -> dict[str, Any]:
        return hashed_fields(
            seq=self.seq,
            at=self.at,
            actor=self.actor,
            role=self.role,
            action=self.action,
            application_id=self.application_id,
            request_id=self.request_id,
            details=self.details,
            prev_hash=self.prev_hash,
        )


def hashed_fields(
    *,
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    application_id: str | None,
    request_id: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": format_time(at),
        "actor": actor,
        "role": role,
        "action": action,
        "application_id": application_id,
        "request_id": request_id,
        "details": details,
        "prev_hash": prev_hash,
    }


def compute_entry_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()
