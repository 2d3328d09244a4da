"""Roles of the people (and the service itself) that act on applications."""

from enum import StrEnum


class Role(StrEnum):
    MANAGER = "manager"
    COMPLIANCE = "compliance"
    ADMIN = "admin"
    APPLICANT = "applicant"
    # The service acting on its own (KYC outcome, call events, expiry sweep).
    SYSTEM = "system"


STAFF_ROLES = frozenset({Role.MANAGER, Role.COMPLIANCE, Role.ADMIN})
