"""Data subjects' requests on a case: compliance records them as tasks with a
due date and carries them out (compliance/subject_requests.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from compliance.subject_requests import (
    RequestKind,
    complete_request,
    get_request,
    list_requests,
    record_request,
)
from loans import applications as apps
from loans.roles import Role
from store.blobs import BlobNamespaces
from web.guards import principal_of, requires
from web.keys import BIOMETRIC_BLOBS, BLOBS, ENGINE, REQUEST_ID
from web.schemas import Body, parse_body

routes = web.RouteTableDef()


class NewRequest(Body):
    kind: RequestKind
    # How it came in and what it asks (channel, date of the letter, fields).
    note: str = Field(min_length=1, max_length=2000)


class Completion(Body):
    note: str = Field(min_length=1, max_length=2000)


@routes.get("/api/applications/{id}/subject-requests")
@requires(Role.COMPLIANCE)
async def requests_of(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    app = await apps.get_application(engine, principal_of(request), request.match_info["id"])
    now = datetime.now(UTC)
    return web.json_response(
        {"items": [task.as_json(now) for task in await list_requests(engine, app.id)]}
    )


@routes.post("/api/applications/{id}/subject-requests")
@requires(Role.COMPLIANCE)
async def new_request(request: web.Request) -> web.Response:
    body = await parse_body(request, NewRequest)
    engine = request.app[ENGINE]
    principal = principal_of(request)
    app = await apps.get_application(engine, principal, request.match_info["id"])
    task = await record_request(
        engine, principal.actor, app.id, body.kind, body.note, request.get(REQUEST_ID)
    )
    return web.json_response(task.as_json(datetime.now(UTC)), status=201)


@routes.post("/api/applications/{id}/subject-requests/{task}/complete")
@requires(Role.COMPLIANCE)
async def complete(request: web.Request) -> web.Response:
    body = await parse_body(request, Completion)
    engine = request.app[ENGINE]
    principal = principal_of(request)
    app = await apps.get_application(engine, principal, request.match_info["id"])
    task = await get_request(engine, app.id, request.match_info["task"])
    done = await complete_request(
        engine,
        BlobNamespaces(request.app[BLOBS], request.app[BIOMETRIC_BLOBS]),
        principal.actor,
        task,
        app.state,
        body.note,
        request.get(REQUEST_ID),
    )
    return web.json_response(done.as_json(datetime.now(UTC)))
