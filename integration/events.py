"""Business events for webhooks, read off the audit log.

The audit log already records every change, in order, once; an event is a view of
an entry, and its id derives from the entry's sequence number, so an event can
never be produced twice. Only what a subscriber needs goes into an event: ids,
states, outcomes, hashes — no names, ID numbers or phone numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from audit.actions import AuditAction
from kyc.actions import KycAction
from loans.actions import LoanAction
from loans.states import REVIEW_ACTIONS, Action
from media.actions import CallAction
from signing.actions import ContractAction


class EventType(StrEnum):
    """The webhook's public vocabulary; some names equal the audit action they
    are read from, but they are a contract with receivers, not the log's."""

    APPLICATION_STATE_CHANGED = "application.state_changed"
    KYC_RESULT = "kyc.result"
    CALL_STARTED = "call.started"
    CALL_ENDED = "call.ended"
    CONTRACT_SIGNED = "contract.signed"
    REVIEW_DECIDED = "review.decided"
    # A sealed audit checkpoint; `data` is the same document `checkpoint_export_dir`
    # holds, so an outside archive fed by this event can back `audit verify --exported`.
    AUDIT_CHECKPOINT = "audit.checkpoint"


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: EventType
    occurred_at: datetime
    application_id: str | None
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "occurred_at": self.occurred_at.isoformat(),
            "application_id": self.application_id,
            "data": self.data,
        }


def events_from(
    seq: int,
    action: str,
    application_id: str | None,
    details: Mapping[str, Any],
    at: datetime,
) -> Iterator[Event]:
    """The events one audit entry stands for (most stand for none)."""

    def event(kind: EventType, data: dict[str, Any], suffix: str = "") -> Event:
        return Event(f"evt_{seq}{suffix}", kind, at, application_id, data)

    if action == LoanAction.APPLICATION_TRANSITION:
        change = {k: details.get(k) for k in ("action", "from", "to")}
        yield event(EventType.APPLICATION_STATE_CHANGED, change)
        if details.get("action") in REVIEW_ACTIONS:
            yield event(EventType.REVIEW_DECIDED, {"decision": details["action"]}, "_review")
        if details.get("action") == Action.START_INTERVIEW:
            yield event(EventType.CALL_STARTED, {}, "_call")
    elif action == KycAction.DOCUMENT_READ:
        checks = details.get("checks", {})
        yield event(
            EventType.KYC_RESULT,
            {
                "check": "document",
                "kind": details.get("kind"),
                "passed": bool(checks) and all(checks.values()),
            },
        )
    elif action == KycAction.FACE_MATCH:
        yield event(
            EventType.KYC_RESULT, {"check": "face_match", "decision": details.get("decision")}
        )
    elif action == KycAction.LIVENESS:
        yield event(EventType.KYC_RESULT, {"check": "liveness", "status": details.get("status")})
    elif action == CallAction.ENDED:
        yield event(
            EventType.CALL_ENDED,
            {"reason": details.get("reason"), "duration_seconds": details.get("duration_seconds")},
        )
    elif action == AuditAction.CHECKPOINT and isinstance(details.get("export"), dict):
        yield event(EventType.AUDIT_CHECKPOINT, dict(details["export"]))
    elif action == ContractAction.SIGNED:
        yield event(
            EventType.CONTRACT_SIGNED,
            {
                "contract_id": details.get("contract_id"),
                "document_sha256": details.get("document_sha256"),
            },
        )
