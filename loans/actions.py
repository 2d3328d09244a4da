"""The audit actions of a loan application, its invites, consent and the
four-eyes decision: one name each, for writers, the review timeline and the
webhook events alike."""

from enum import StrEnum


class LoanAction(StrEnum):
    APPLICATION_CREATED = "application.created"
    # Every state change; details name the action, the states and the comment.
    APPLICATION_TRANSITION = "application.transition"
    # The applicant's data corrected by the manager, with a reason (PIPL Art. 46).
    APPLICATION_CORRECTED = "application.corrected"
    # A principal tried an action its role or ownership does not allow.
    ACTION_DENIED = "authz.denied"
    INVITE_CREATED = "invite.created"
    INVITE_REVOKED = "invite.revoked"
    INVITE_OPENED = "invite.opened"
    # An unknown, expired or revoked invite link was tried (rate-limited on these).
    INVITE_REFUSED = "invite.refused"
    # One consent record each (loans/consent.py): agreed, declined, or withdrawn.
    CONSENT_GIVEN = "consent.given"
    CONSENT_DECLINED = "consent.declined"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    # The reviewer's four-eyes checklist, before approving or rejecting.
    REVIEW_CHECKLIST = "review.checklist"
