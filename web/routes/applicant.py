"""The applicant's side: opening the invite link, the landing page, consent."""

from __future__ import annotations

from aiohttp import web

from kyc.workers import DocumentKind
from loans import applications as apps
from loans import invites
from loans.consent import current_consent, record_consent
from loans.errors import InviteUnusable
from loans.roles import Role
from web.auth.sessions import COOKIE_NAME
from web.guards import principal_of, requires
from web.keys import ENGINE, LANGUAGE, REQUEST_ID, SESSION, SESSIONS
from web.render import render
from web.routes.public import set_cookie
from web.schemas import ConsentBody, parse_body
from web.views import application_json

routes = web.RouteTableDef()

MAX_TOKEN_LENGTH = 64
STEPS_TOTAL = 5


@routes.get("/i/{token}")
async def open_invite(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InviteUnusable("malformed invite token")
        invite = await invites.open_invite(
            request.app[ENGINE], token, request_id=request.get(REQUEST_ID)
        )
    except InviteUnusable:
        return render(request, "invite_invalid.html", status=410)
    old = request.cookies.get(COOKIE_NAME)
    if old:
        await request.app[SESSIONS].end(old)
    session_token = await request.app[SESSIONS].start_applicant(invite.application_id, invite.id)
    # Redirect so the token leaves the address bar and browser history.
    response = web.HTTPSeeOther("/apply")
    set_cookie(request, response, COOKIE_NAME, session_token)
    raise response


@routes.get("/apply")
async def apply_page(request: web.Request) -> web.Response:
    session = request.get(SESSION)
    if session is None or session.principal.role is not Role.APPLICANT:
        return render(request, "no_session.html", status=401)
    principal = session.principal
    assert principal.application_id is not None
    engine = request.app[ENGINE]
    app = await apps.get_application(engine, principal, principal.application_id)
    consent = await current_consent(engine, app.id)
    return render(
        request,
        "apply.html",
        app=app,
        consent=consent,
        step=1 if consent is None else 2,
        steps_total=STEPS_TOTAL,
        document_kinds=[kind.value for kind in DocumentKind],
    )


@routes.get("/api/applicant/application")
@requires(Role.APPLICANT)
async def applicant_application(request: web.Request) -> web.Response:
    principal = principal_of(request)
    assert principal.application_id is not None
    engine = request.app[ENGINE]
    app = await apps.get_application(engine, principal, principal.application_id)
    body = application_json(app, principal)
    consent = await current_consent(engine, app.id)
    body["consent_given"] = consent is not None
    return web.json_response(body)


@routes.post("/api/applicant/consent")
@requires(Role.APPLICANT)
async def give_consent(request: web.Request) -> web.Response:
    body = await parse_body(request, ConsentBody)
    consent = await record_consent(
        request.app[ENGINE],
        principal_of(request),
        recording=body.recording,
        data_use=body.data_use,
        language=request.get(LANGUAGE, "zh-CN"),
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(
        {
            "recording": consent.recording,
            "data_use": consent.data_use,
            "text_version": consent.text_version,
            "accepted_at": consent.accepted_at.isoformat(),
        }
    )
