"""JSON shapes of domain objects as the API returns them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loans.access import Principal
from loans.invites import Invite
from loans.models import Application
from loans.roles import Role
from loans.states import Action, actions_for

# Actions a person takes through POST /api/applications/{id}/actions; inviting has its
# own endpoint (it returns a token), review decisions theirs (they carry the
# four-eyes checklist: web/routes/review.py), the rest are taken by the service.
HTTP_ACTIONS = frozenset(
    {
        Action.CONFIRM_IDENTITY,
        Action.START_INTERVIEW,
        Action.INTERRUPT_INTERVIEW,
        Action.SUBMIT_FOR_REVIEW,
        Action.RESUBMIT,
        Action.CANCEL,
    }
)


def iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat(timespec="seconds") if at else None


def application_json(app: Application, principal: Principal) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": app.id,
        "company_name": app.company_name,
        "credit_code": app.credit_code,
        "legal_rep_name": app.legal_rep_name,
        "loan_amount": app.loan_amount,
        "term_months": app.term_months,
        "annual_rate_percent": app.annual_rate_percent,
        "repayment_method": app.repayment_method.value,
        "state": app.state.value,
        "version": app.version,
        "created_at": iso(app.created_at),
        "updated_at": iso(app.updated_at),
    }
    if principal.role is Role.APPLICANT:
        return body
    body["manager_id"] = app.manager_id
    # Staff other than the case's manager see the phone masked.
    body["legal_rep_phone"] = (
        app.legal_rep_phone
        if principal.role is Role.MANAGER and principal.user_id == app.manager_id
        else app.masked_phone
    )
    body["allowed_actions"] = [
        a.value for a in actions_for(app.state, principal.role) if a in HTTP_ACTIONS
    ]
    return body


def invite_json(invite: Invite, now: datetime) -> dict[str, Any]:
    return {
        "id": invite.id,
        "created_at": iso(invite.created_at),
        "expires_at": iso(invite.expires_at),
        "revoked_at": iso(invite.revoked_at),
        "last_opened_at": iso(invite.last_opened_at),
        "status": invite.status(now),
    }
