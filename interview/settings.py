"""What the interview's flow takes from the service's settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InterviewSettings:
    bank_name: str
    # The contract's start date is the bank's local date.
    display_timezone: str
    signing_code_minutes: int
