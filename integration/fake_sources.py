"""Fakes of the identity platform and the business registry, for the demo and the
tests that are not about the sources: the real platform cannot be reached from
here. They are named fakes wherever they show (the source name "fake"), and a
deployment that sets SIGNROOM_SOURCE_GATE with a fake is refused at start-up.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path

from kyc import idnumber
from kyc.sources import SourceAnswer, SourceVerdict

FAKE = "fake"


class FakeIdentitySource:
    """Knows nobody: it says `match` for any number whose check character holds
    and `not_found` for the rest, so the demo shows the step, not a verification."""

    name = FAKE

    async def check_identity(self, *, id_number: str, name: str, request_id: str) -> SourceAnswer:
        valid = idnumber.problem_reason(id_number) is None and bool(name.strip())
        verdict = SourceVerdict.MATCH if valid else SourceVerdict.NOT_FOUND
        return SourceAnswer(verdict, f"fake-{uuid.uuid4().hex[:12]}")


class FakeBusinessRegistry:
    """A registry of the companies it is given (credit code -> company_name,
    legal_representative, status), for instance the demo's own."""

    name = FAKE

    def __init__(self, companies: Mapping[str, Mapping[str, str]]) -> None:
        self._companies = {code: dict(entry) for code, entry in companies.items()}

    @classmethod
    def from_file(cls, path: Path) -> FakeBusinessRegistry:
        """Raises OSError or ValueError for a file that is not such a JSON object."""
        companies = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(companies, dict) or not all(
            isinstance(entry, dict) for entry in companies.values()
        ):
            raise ValueError("not an object of credit code -> entry")
        return cls(companies)

    async def look_up(self, *, credit_code: str, request_id: str) -> SourceAnswer:
        entry = self._companies.get(credit_code)
        reference = f"fake-{uuid.uuid4().hex[:12]}"
        if entry is None:
            return SourceAnswer(SourceVerdict.NOT_FOUND, reference)
        return SourceAnswer(SourceVerdict.MATCH, reference, entry)
