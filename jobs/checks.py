"""The checks a job can ask for: what each takes (blobs by digest, JSON
arguments) and how a worker runs it on its own worker processes."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from kyc.liveness import Challenge
from kyc.workers import DocumentKind, Expectations, KycWorkers
from signing.workers import ValidationWorkers


class Check(StrEnum):
    READ_DOCUMENT = "read_document"
    MATCH_FACE = "match_face"
    LIVENESS = "liveness"
    VALIDATE_PDF = "validate_pdf"


@dataclass(frozen=True, slots=True)
class CheckRequest:
    check: Check
    # Inputs by name, as blob digests: they can be megabytes, and the blob store is
    # what every node and worker shares.
    blobs: dict[str, str]
    args: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"check": self.check.value, "blobs": self.blobs, "args": self.args}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> CheckRequest:
        return cls(Check(payload["check"]), dict(payload["blobs"]), dict(payload.get("args", {})))


def read_document_args(kind: DocumentKind, today: date, expect: Expectations) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "today": today.isoformat(),
        "expect": {
            "legal_representative": expect.legal_representative,
            "company_name": expect.company_name,
            "credit_code": expect.credit_code,
        },
    }


def liveness_args(challenges: list[Challenge], lead_in: float, window: float) -> dict[str, Any]:
    return {"challenges": [c.value for c in challenges], "lead_in": lead_in, "window": window}


def validate_args(
    roots_der: list[bytes], at: datetime | None, allow_fetching: bool
) -> dict[str, Any]:
    return {
        "roots": [base64.b64encode(der).decode() for der in roots_der],
        "at": at.isoformat() if at else None,
        "allow_fetching": allow_fetching,
    }


async def run(
    request: CheckRequest,
    inputs: dict[str, bytes],
    kyc: KycWorkers,
    validation: ValidationWorkers,
) -> object:
    """On a worker: the check's result, computed in its bounded processes."""
    args = request.args
    match request.check:
        case Check.READ_DOCUMENT:
            return await kyc.read(
                DocumentKind(args["kind"]),
                inputs["data"],
                today=date.fromisoformat(args["today"]),
                expect=Expectations(**args["expect"]),
            )
        case Check.MATCH_FACE:
            return await kyc.match_face(inputs["id_front"], inputs["selfie"])
        case Check.LIVENESS:
            return await kyc.check_liveness(
                inputs["video"],
                inputs["id_front"],
                [Challenge(c) for c in args["challenges"]],
                lead_in=float(args["lead_in"]),
                window=float(args["window"]),
            )
        case Check.VALIDATE_PDF:
            return await validation.validate(
                inputs["pdf"],
                [base64.b64decode(der) for der in args["roots"]],
                at=datetime.fromisoformat(args["at"]) if args["at"] else None,
                allow_fetching=bool(args["allow_fetching"]),
            )
