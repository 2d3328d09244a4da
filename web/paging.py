"""Paging and the state filter of list endpoints (staff pages and /api/v1)."""

from __future__ import annotations

from aiohttp import web

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
