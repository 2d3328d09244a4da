"""Paging and the state filter of list endpoints (staff pages and /api/v1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

from loans.applications import ListFilter
from loans.states import State
from web import errors

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Far beyond any real list; keeps the number inside what databases take.
MAX_OFFSET = 1_000_000_000


def paging(request: web.Request) -> tuple[int, int]:
    try:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", str(PAGE_SIZE)))
    except ValueError:
        raise errors.BadRequest("offset and limit must be integers") from None
    if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_PAGE_SIZE:
        raise errors.BadRequest(f"0 <= offset <= {MAX_OFFSET} and 1 <= limit <= {MAX_PAGE_SIZE}")
    return offset, limit


def state_filter(request: web.Request) -> State | None:
    raw = request.query.get("state")
    if not raw:
        return None
    try:
        return State(raw)
    except ValueError:
        raise errors.BadRequest(f"unknown state {raw[:40]!r}") from None


KYC_OUTCOMES = ("passed", "failed", "none")


def _day(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC)
    except ValueError:
        raise errors.BadRequest(f"{name} must be a date, YYYY-MM-DD") from None


def list_filter(request: web.Request) -> ListFilter:
    """The review list's filters from the query string (all optional)."""
    manager = request.query.get("manager")
    flagged = request.query.get("flagged")
    kyc = request.query.get("kyc") or None
    if manager and not manager.isdigit():
        raise errors.BadRequest("manager must be a user id")
    if flagged not in (None, "", "yes", "no"):
        raise errors.BadRequest("flagged is yes or no")
    if kyc is not None and kyc not in KYC_OUTCOMES:
        raise errors.BadRequest(f"kyc is one of {', '.join(KYC_OUTCOMES)}")
    until = _day(request, "to")
    return ListFilter(
        state=state_filter(request),
        created_from=_day(request, "from"),
        created_before=until + timedelta(days=1) if until else None,
        manager_id=int(manager) if manager else None,
        ever_flagged={"yes": True, "no": False}.get(flagged or ""),
        kyc=kyc,
    )
