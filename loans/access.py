"""Who is acting, and which applications they may see."""

from __future__ import annotations

from dataclasses import dataclass

from audit.log import Actor
from loans.roles import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated party: a staff user, or an applicant bound to one application."""

    role: Role
    user_id: int | None = None
    application_id: str | None = None
    invite_id: str | None = None

    @property
    def actor(self) -> Actor:
        if self.role is Role.APPLICANT:
            return Actor(f"applicant:{self.application_id}", self.role.value)
        if self.role is Role.SYSTEM:
            return Actor("system", self.role.value)
        return Actor(f"user:{self.user_id}", self.role.value)


SYSTEM_PRINCIPAL = Principal(Role.SYSTEM)


def can_view(principal: Principal, application_id: str, manager_id: int) -> bool:
    """Managers see their own cases, compliance all, applicants only theirs."""
    match principal.role:
        case Role.MANAGER:
            return principal.user_id == manager_id
        case Role.COMPLIANCE | Role.SYSTEM:
            return True
        case Role.APPLICANT:
            return principal.application_id == application_id
        case _:
            return False
