"""Application states, actions, and the one table of allowed transitions.

Every change of state goes through `resolve`: an action not in the table for the
current state, or taken by a role the table does not name, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from loans.errors import ActionForbidden, TransitionNotAllowed
from loans.roles import Role


class State(StrEnum):
    DRAFT = "draft"
    INVITED = "invited"
    IDENTITY_VERIFIED = "identity_verified"
    IN_INTERVIEW = "in_interview"
    CONTRACT_SIGNED = "contract_signed"
    UNDER_REVIEW = "under_review"
    FLAGGED = "flagged"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Action(StrEnum):
    INVITE = "invite"
    VERIFY_IDENTITY = "verify_identity"
    CONFIRM_IDENTITY = "confirm_identity"
    START_INTERVIEW = "start_interview"
    INTERRUPT_INTERVIEW = "interrupt_interview"
    SIGN_CONTRACT = "sign_contract"
    SUBMIT_FOR_REVIEW = "submit_for_review"
    APPROVE = "approve"
    REJECT = "reject"
    FLAG = "flag"
    RESUBMIT = "resubmit"
    CANCEL = "cancel"
    EXPIRE = "expire"


TERMINAL_STATES = frozenset({State.APPROVED, State.REJECTED, State.CANCELLED, State.EXPIRED})

# Review decisions are the compliance side of four-eyes: never by the case's manager.
REVIEW_ACTIONS = frozenset({Action.APPROVE, Action.REJECT, Action.FLAG})

# Actions that must carry a human-readable reason.
ACTIONS_NEEDING_COMMENT = frozenset(
    {Action.REJECT, Action.FLAG, Action.CANCEL, Action.CONFIRM_IDENTITY}
)


@dataclass(frozen=True, slots=True)
class Rule:
    target: State
    roles: frozenset[Role]


def _rule(target: State, *roles: Role) -> Rule:
    return Rule(target, frozenset(roles))


S, A, R = State, Action, Role

TRANSITIONS = MappingProxyType(
    {
        (S.DRAFT, A.INVITE): _rule(S.INVITED, R.MANAGER),
        # A fresh invite (lost link, new phone) keeps the state it is given in.
        (S.INVITED, A.INVITE): _rule(S.INVITED, R.MANAGER),
        (S.IDENTITY_VERIFIED, A.INVITE): _rule(S.IDENTITY_VERIFIED, R.MANAGER),
        (S.EXPIRED, A.INVITE): _rule(S.INVITED, R.MANAGER),
        (S.INVITED, A.VERIFY_IDENTITY): _rule(S.IDENTITY_VERIFIED, R.SYSTEM),
        # The manager's word where the face match fell in its review band; the
        # route allows it only then (web.routes.applications).
        (S.INVITED, A.CONFIRM_IDENTITY): _rule(S.IDENTITY_VERIFIED, R.MANAGER),
        (S.IDENTITY_VERIFIED, A.START_INTERVIEW): _rule(S.IN_INTERVIEW, R.MANAGER, R.SYSTEM),
        # A call that ends before signing leaves the case ready for another call.
        (S.IN_INTERVIEW, A.INTERRUPT_INTERVIEW): _rule(S.IDENTITY_VERIFIED, R.MANAGER, R.SYSTEM),
        (S.IN_INTERVIEW, A.SIGN_CONTRACT): _rule(S.CONTRACT_SIGNED, R.SYSTEM),
        # The applicant signs during the call; the bank's seal and timestamps may
        # complete (or be retried) after it ended.
        (S.IDENTITY_VERIFIED, A.SIGN_CONTRACT): _rule(S.CONTRACT_SIGNED, R.SYSTEM),
        (S.CONTRACT_SIGNED, A.SUBMIT_FOR_REVIEW): _rule(S.UNDER_REVIEW, R.MANAGER, R.SYSTEM),
        (S.UNDER_REVIEW, A.APPROVE): _rule(S.APPROVED, R.COMPLIANCE),
        (S.UNDER_REVIEW, A.REJECT): _rule(S.REJECTED, R.COMPLIANCE),
        (S.UNDER_REVIEW, A.FLAG): _rule(S.FLAGGED, R.COMPLIANCE),
        (S.FLAGGED, A.RESUBMIT): _rule(S.UNDER_REVIEW, R.MANAGER),
        (S.DRAFT, A.CANCEL): _rule(S.CANCELLED, R.MANAGER),
        (S.INVITED, A.CANCEL): _rule(S.CANCELLED, R.MANAGER),
        (S.IDENTITY_VERIFIED, A.CANCEL): _rule(S.CANCELLED, R.MANAGER),
        (S.IN_INTERVIEW, A.CANCEL): _rule(S.CANCELLED, R.MANAGER),
        (S.FLAGGED, A.CANCEL): _rule(S.CANCELLED, R.MANAGER),
        (S.INVITED, A.EXPIRE): _rule(S.EXPIRED, R.SYSTEM),
    }
)


def resolve(state: State, action: Action, role: Role) -> State:
    """The state `action` by `role` leads to from `state`; raises if not allowed."""
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        raise TransitionNotAllowed.of(state.value, action.value)
    if role not in rule.roles:
        raise ActionForbidden(f"a {role.value} may not {action.value} an application")
    return rule.target


def actions_for(state: State, role: Role) -> list[Action]:
    """Actions `role` may take from `state`, in table order."""
    return [
        action for (src, action), rule in TRANSITIONS.items() if src == state and role in rule.roles
    ]
