"""Admin routes: staff accounts, and running the audit chain check."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from audit.checkpoints import verify_anchored_log
from compliance.processing_record import FILING_THRESHOLD, people_with_face_data
from loans.roles import Role
from web import errors
from web.auth import users
from web.auth.passwords import generate_password
from web.guards import principal_of, requires
from web.keys import ENGINE, REQUEST_ID, SETTINGS, SIGNING
from web.render import render
from web.schemas import NewUserBody, parse_body
from web.views import iso

routes = web.RouteTableDef()


def user_json(user: users.User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "disabled": user.disabled,
        "created_at": iso(user.created_at),
    }


@routes.get("/admin/users")
@requires(Role.ADMIN)
async def users_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return render(
        request,
        "admin_users.html",
        users=await users.list_users(engine),
        face_data_people=await people_with_face_data(engine),
        filing_threshold=FILING_THRESHOLD,
    )


@routes.get("/api/admin/users")
@requires(Role.ADMIN)
async def list_users(request: web.Request) -> web.Response:
    found = await users.list_users(request.app[ENGINE])
    return web.json_response({"items": [user_json(u) for u in found]})


@routes.post("/api/admin/users")
@requires(Role.ADMIN)
async def create_user(request: web.Request) -> web.Response:
    body = await parse_body(request, NewUserBody)
    password = generate_password()
    user = await users.create_user(
        request.app[ENGINE],
        principal_of(request).actor,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        password=password,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response({**user_json(user), "password": password}, status=201)


async def _username_of(request: web.Request) -> str:
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        raise errors.NotFound("no such user") from None
    user = await users.get_user(request.app[ENGINE], user_id=user_id)
    if user is None:
        raise errors.NotFound("no such user")
    return user.username


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    principal = principal_of(request)
    username = await _username_of(request)
    if disabled and principal.user_id == int(request.match_info["user_id"]):
        raise errors.Conflict("you cannot disable your own account")
    await users.set_disabled(
        request.app[ENGINE],
        principal.actor,
        username,
        disabled,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response({"username": username, "disabled": disabled})


@routes.post("/api/admin/users/{user_id}/disable")
@requires(Role.ADMIN)
async def disable_user(request: web.Request) -> web.Response:
    return await _set_disabled(request, True)


@routes.post("/api/admin/users/{user_id}/enable")
@requires(Role.ADMIN)
async def enable_user(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


@routes.post("/api/admin/users/{user_id}/reset-password")
@requires(Role.ADMIN)
async def reset_password(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    username = await _username_of(request)
    password = generate_password()
    await users.set_password(
        request.app[ENGINE],
        principal_of(request).actor,
        username,
        password,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response({"username": username, "password": password})


@routes.get("/api/audit/verify")
@requires(Role.ADMIN, Role.COMPLIANCE)
async def verify_audit(request: web.Request) -> web.Response:
    """The chain, the sealed checkpoints and, when configured, the exported ones."""
    settings = request.app[SETTINGS]
    report = await verify_anchored_log(
        request.app[ENGINE], request.app[SIGNING].check_statement, settings.checkpoint_export
    )
    chain = report.chain
    return web.json_response(
        {
            "ok": report.ok,
            "entries_checked": chain.entries_checked,
            "head_hash": chain.head_hash,
            "first_broken_seq": chain.first_broken_seq,
            "reason": chain.reason,
            "checkpoints": report.checkpoints,
            "newest_checkpoint_tree_size": report.newest_tree_size,
            "problems": report.problems,
        }
    )
