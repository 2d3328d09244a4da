"""Outside sources that vouch for what a document says: an identity platform (in
China the national citizen identity platform, or the bank's own gateway to it;
elsewhere a population registry) asked whether an ID number and a name belong
together, and a business registry asked what it holds under a credit code.

The adapters live in integration/ (an HTTP one, and named fakes for the demo and
tests); kyc/source_checks.py asks them and keeps their answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from kyc.errors import KycError


class SourceKind(StrEnum):
    IDENTITY = "identity"
    REGISTRY = "registry"


class SourceVerdict(StrEnum):
    # The source holds a record and it agrees (identity: number and name belong
    # together; registry: a company is registered under the code).
    MATCH = "match"
    # Identity only: the number exists and the name is not its holder's.
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"
    # No usable answer (timeout, refused, malformed, unsigned): asked again on the
    # next upload; never taken as a pass.
    UNAVAILABLE = "unavailable"


class SourceUnavailable(KycError):
    """The source could not be asked or its answer cannot be trusted. The message
    names the cause and never the data sent."""

    code = "source_unavailable"


@dataclass(frozen=True, slots=True)
class SourceAnswer:
    verdict: SourceVerdict
    # The source's own id for this answer, for the bank to trace it there.
    reference: str
    # A registry's entry: company_name, legal_representative, status (as registered).
    record: dict[str, str] = field(default_factory=dict)


class IdentitySource(Protocol):
    name: str

    async def check_identity(self, *, id_number: str, name: str, request_id: str) -> SourceAnswer:
        """Whether `name` holds `id_number`. Raises SourceUnavailable."""
        ...


class BusinessRegistry(Protocol):
    name: str

    async def look_up(self, *, credit_code: str, request_id: str) -> SourceAnswer:
        """The registry's entry under `credit_code`. Raises SourceUnavailable."""
        ...


@dataclass(frozen=True, slots=True)
class IdentitySources:
    """The sources a deployment asks (None: not asked), and whether their answers
    gate `identity_verified` (SIGNROOM_SOURCE_GATE)."""

    identity: IdentitySource | None = None
    registry: BusinessRegistry | None = None
    gate: bool = False

    def as_json(self) -> dict[str, object]:
        """Which sources are asked (a fake says so) and whether they gate."""
        return {
            "identity": self.identity.name if self.identity else None,
            "registry": self.registry.name if self.registry else None,
            "gate": self.gate,
        }

    @property
    def required(self) -> frozenset[SourceKind]:
        if not self.gate:
            return frozenset()
        asked = {SourceKind.IDENTITY: self.identity, SourceKind.REGISTRY: self.registry}
        return frozenset(kind for kind, source in asked.items() if source is not None)
