"""What reading a document yields: fields with confidences, and named checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    value: str
    # The OCR engine's confidence in the weakest text line the value came from.
    confidence: float

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": round(self.confidence, 3)}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message}


Fields = dict[str, Field]
