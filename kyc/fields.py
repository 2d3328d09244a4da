"""What reading a document yields: fields with confidences, and named checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    value: str
    # The OCR engine's confidence in the weakest text line the value came from.
    confidence: float
    # The label printed beside the value, where layouts differ in what they call
    # it (a licence's 法定代表人, 经营者 or 执行事务合伙人).
    label: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "confidence": round(self.confidence, 3)}
        if self.label is not None:
            out["label"] = self.label
        return out


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message}


Fields = dict[str, Field]
