"""What reading a document yields: fields with confidences, and named checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kyc.check_reasons import CHECK_REASONS


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
    # Why, machine-readable (kyc/check_reasons.py), with the values its text names;
    # None on checks stored before reasons existed, which keep only their message.
    reason: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, passed: bool, reason: str, **values: str) -> Check:
        text = CHECK_REASONS[reason].format(**values) if values else CHECK_REASONS[reason]
        return cls(name, passed, text, reason, values)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "passed": self.passed, "message": self.message}
        if self.reason is not None:
            out["reason"] = self.reason
            out["values"] = dict(self.values)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Check:
        return cls(
            data["name"],
            data["passed"],
            data["message"],
            data.get("reason"),
            data.get("values", {}),
        )


Fields = dict[str, Field]
