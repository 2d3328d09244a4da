"""Every route, called by every kind of principal, answers as the access rules say.

The expected table is written out here, independently of the guards in the code, and
must name every route the app registers.
"""

from __future__ import annotations

from dataclasses import dataclass

from loans.roles import Role
from tests.web_support import APPLICATION, Browser, Service
from web.keys import ENGINE

PRINCIPALS = (
    "anon",
    "applicant",
    "applicant_other",
    "manager",
    "manager_other",
    "compliance",
    "admin",
)
STAFF = ("manager", "manager_other", "compliance", "admin")

# Shorthands for expected statuses.
LOGIN = 302  # pages redirect an anonymous visitor to the sign-in page


@dataclass(frozen=True)
class Case:
    method: str
    template: str
    expect: dict[str, int]
    body: object = None

    def path(self, ids: dict[str, str]) -> str:
        return self.template.format(**ids)


def only(allowed: dict[str, int], *, anon: int = 401, others: int = 403) -> dict[str, int]:
    return {p: allowed.get(p, anon if p == "anon" else others) for p in PRINCIPALS}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PRINCIPALS, status)


CASES = [
    Case("GET", "/healthz", everyone(200)),
    Case("GET", "/readyz", everyone(200)),
    Case("GET", "/", everyone(302)),
    Case("GET", "/login", {**everyone(302), "anon": 200, "applicant": 200, "applicant_other": 200}),
    Case("POST", "/api/auth/login", everyone(403), body={"username": "x", "password": "y"}),
    Case("GET", "/api/me", {**everyone(200), "anon": 401}),
    Case("GET", "/lang/{lang}", everyone(302)),
    Case("GET", "/static/{static}", everyone(200)),
    Case("GET", "/i/{token}", everyone(410)),
    Case("GET", "/manager", only({"manager": 200, "manager_other": 200}, anon=LOGIN)),
    Case("GET", "/compliance", only({"compliance": 200}, anon=LOGIN)),
    Case("GET", "/staff/applications/{app}", only({"manager": 200, "compliance": 200}, anon=LOGIN)),
    Case(
        "GET", "/api/applications", only({"manager": 200, "manager_other": 200, "compliance": 200})
    ),
    Case(
        "POST", "/api/applications", only({"manager": 201, "manager_other": 201}), body=APPLICATION
    ),
    Case("GET", "/api/applications/{app}", only({"manager": 200, "compliance": 200})),
    Case("GET", "/api/applications/{app}/audit", only({"manager": 200, "compliance": 200})),
    # The case is `invited`: the owner and compliance pass the access check and are
    # then told the action does not apply (409), everyone else is refused.
    Case(
        "POST",
        "/api/applications/{app}/actions",
        only({"manager": 409, "compliance": 409}),
        body={"action": "submit_for_review"},
    ),
    Case("POST", "/api/applications/{app}/invites", only({"manager": 201})),
    Case(
        "POST",
        "/api/applications/{app}/correction",
        only({"manager": 200}),
        body={"field": "legal_rep_phone", "value": "13900139000", "reason": "new number"},
    ),
    Case("POST", "/api/applications/{app}/invites/{invite}/revoke", only({"manager": 200})),
    Case("GET", "/apply", {**everyone(401), "applicant": 200, "applicant_other": 200}),
    Case("GET", "/api/applicant/application", only({"applicant": 200, "applicant_other": 200})),
    Case(
        "POST",
        "/api/applicant/consent",
        only({"applicant": 200, "applicant_other": 200}),
        body={"recording": True, "data_use": True},
    ),
    Case(
        "POST",
        "/api/applicant/consent/biometrics",
        only({"applicant": 200, "applicant_other": 200}),
        body={"granted": True},
    ),
    Case(
        "POST",
        "/api/applicant/device-check",
        only({"applicant": 200, "applicant_other": 200}),
        body={"camera": True, "microphone": True, "webrtc": True, "recorder": True, "rtt_ms": 9},
    ),
    # The matrix sends JSON; an applicant passes the guard and is told to send a photo.
    Case(
        "POST",
        "/api/applicant/documents/{kind}",
        only({"applicant": 415, "applicant_other": 415}),
        body={"not": "a photo"},
    ),
    # No ID card read yet: the applicant passes the guard and is told to send it first.
    Case(
        "POST",
        "/api/applicant/selfie",
        only({"applicant": 409, "applicant_other": 409}),
        body={"not": "a photo"},
    ),
    Case("GET", "/api/applicant/kyc", only({"applicant": 200, "applicant_other": 200})),
    # Liveness needs the ID card first (409); an unknown attempt is 404.
    Case("POST", "/api/applicant/liveness", only({"applicant": 409, "applicant_other": 409})),
    Case(
        "POST",
        "/api/applicant/liveness/{attempt}/video",
        only({"applicant": 404, "applicant_other": 404}),
        body={"not": "a video"},
    ),
    Case("GET", "/api/applications/{app}/kyc", only({"manager": 200, "compliance": 200})),
    # Calls: the case is `invited`, so the participants pass the access checks and
    # are told there is no call yet (409); ICE servers are theirs to fetch.
    Case("POST", "/api/applicant/call/queue", only({"applicant": 409, "applicant_other": 409})),
    Case("GET", "/api/calls/queue", only({"manager": 200, "manager_other": 200})),
    Case("POST", "/api/applications/{app}/call", only({"manager": 409})),
    Case("GET", "/api/calls/{app}/ice", only({"applicant": 200, "manager": 200})),
    Case("GET", "/api/calls/{app}/signal", only({"applicant": 409, "manager": 409})),
    Case("POST", "/api/calls/{app}/snapshot", only({"manager": 409})),
    Case("POST", "/api/calls/{app}/live-check", only({"manager": 409})),
    Case(
        "POST",
        "/api/calls/{app}/document-check",
        only({"manager": 409}),
        body={"kind": "id_front"},
    ),
    Case("GET", "/api/applicant/verification", only({"applicant": 409, "applicant_other": 409})),
    Case("POST", "/api/applicant/liveness/call", only({"applicant": 409, "applicant_other": 409})),
    Case("POST", "/api/calls/{app}/end", only({"manager": 409})),
    Case(
        "POST",
        "/api/calls/{app}/checklist",
        only({"manager": 409}),
        body={
            "checklist": {
                "id_shown": True,
                "purpose_confirmed": True,
                "terms_explained": True,
                "acted_voluntarily": True,
            }
        },
    ),
    # Contracts: the case is `invited` with no contract pushed yet.
    Case("POST", "/api/applications/{app}/contract", only({"manager": 409})),
    Case("GET", "/api/applications/{app}/contract", only({"manager": 404, "compliance": 404})),
    Case(
        "GET",
        "/api/applications/{app}/contract/document",
        only({"manager": 404, "compliance": 404}),
    ),
    Case("POST", "/api/applications/{app}/contract/complete", only({"manager": 409})),
    Case("GET", "/api/applications/{app}/evidence.zip", only({"compliance": 200})),
    Case(
        "GET",
        "/api/applications/{app}/personal-data.zip",
        only({"compliance": 200}),
    ),
    Case("GET", "/api/applications/{app}/timeline", only({"manager": 200, "compliance": 200})),
    # No call was recorded, no contract signed: staff pass the guard and find nothing.
    Case(
        "GET",
        "/api/applications/{app}/recordings/{recording}",
        only({"manager": 404, "compliance": 404}),
    ),
    Case(
        "GET",
        "/api/applications/{app}/evidence/{digest}",
        only({"manager": 404, "compliance": 404}),
    ),
    Case(
        "GET",
        "/api/applications/{app}/contract/validation",
        only({"manager": 404, "compliance": 404}),
    ),
    # Compliance passes the guard; an invited case cannot be reviewed yet (409) and has
    # no ID number read (404).
    Case(
        "POST",
        "/api/applications/{app}/review",
        only({"compliance": 409}),
        body={
            "decision": "flag",
            "comment": "x",
            "checklist": {
                "identity_confirmed": True,
                "acted_voluntarily": True,
                "contract_explained": True,
                "recording_complete": True,
            },
        },
    ),
    Case("POST", "/api/applications/{app}/kyc/reveal", only({"compliance": 404})),
    Case("GET", "/api/applications/{app}/subject-requests", only({"compliance": 200})),
    Case("GET", "/api/applications/{app}/processing-record", only({"compliance": 200})),
    Case(
        "POST",
        "/api/applications/{app}/subject-requests",
        only({"compliance": 201}),
        body={"kind": "access", "note": "asked by phone"},
    ),
    # No such task: compliance passes the guard and finds nothing.
    Case(
        "POST",
        "/api/applications/{app}/subject-requests/{task}/complete",
        only({"compliance": 404}),
        body={"note": "sent"},
    ),
    Case("GET", "/api/applicant/contract", only({"applicant": 404, "applicant_other": 404})),
    Case(
        "GET",
        "/api/applicant/contract/pages/{page}",
        only({"applicant": 404, "applicant_other": 404}),
    ),
    Case(
        "POST",
        "/api/applicant/contract/pages/{page}/read",
        only({"applicant": 404, "applicant_other": 404}),
    ),
    Case("POST", "/api/applicant/contract/code", only({"applicant": 404, "applicant_other": 404})),
    Case(
        "POST",
        "/api/applicant/contract/sign",
        only({"applicant": 404, "applicant_other": 404}),
        body={"code": "123456", "mark_png": "AAAA"},
    ),
    Case(
        "GET", "/api/applicant/contract/document", only({"applicant": 404, "applicant_other": 404})
    ),
    Case("GET", "/verify", only(dict.fromkeys(STAFF, 200), anon=LOGIN)),
    # Staff pass the guard and are told to send a PDF rather than JSON.
    Case("POST", "/api/verify-pdf", only(dict.fromkeys(STAFF, 415)), body={"not": "a pdf"}),
    # The CA's public face: no login, for validators anywhere.
    Case("GET", "/pki/{which}.pem", everyone(200)),
    Case("GET", "/pki/{which}.crl", everyone(200)),
    Case("POST", "/pki/ocsp", everyone(415), body={"not": "ocsp"}),
    # A malformed request gets an OCSP "malformedRequest" answer, not an HTTP error.
    Case("GET", "/pki/ocsp/{request}", everyone(200)),
    Case("POST", "/pki/tsa", everyone(415), body={"not": "a timestamp query"}),
    # Prometheus: the test clients are on loopback, which is what it is served to.
    Case("GET", "/metrics", everyone(200)),
    Case("GET", "/admin/templates", only({"admin": 200}, anon=LOGIN)),
    Case("GET", "/api/admin/contract-templates", only({"admin": 200})),
    Case("GET", "/api/admin/contract-templates/{version}", only({"admin": 200})),
    # A template without the schedule and signature blocks is refused.
    Case(
        "POST",
        "/api/admin/contract-templates",
        only({"admin": 422}),
        body={"body": "# only a title", "note": "broken"},
    ),
    # No certificate with this serial was issued here.
    Case(
        "POST",
        "/api/admin/certificates/{serial}/revoke",
        only({"admin": 409}),
        body={"reason": "key_compromise"},
    ),
    # /api/v1 takes API keys only: a browser session, of any role, is no key.
    Case("GET", "/api/v1/openapi.json", everyone(200)),
    Case("POST", "/api/v1/applications", everyone(401), body=APPLICATION),
    Case("GET", "/api/v1/applications", everyone(401)),
    Case("GET", "/api/v1/applications/{app}", everyone(401)),
    Case("POST", "/api/v1/applications/{app}/cancel", everyone(401), body={"reason": "x"}),
    Case("POST", "/api/v1/applications/{app}/invites", everyone(401)),
    Case("GET", "/api/v1/applications/{app}/kyc", everyone(401)),
    Case("GET", "/api/v1/applications/{app}/contract", everyone(401)),
    Case("GET", "/api/v1/applications/{app}/contract/document", everyone(401)),
    Case("GET", "/api/admin/api-keys", only({"admin": 200})),
    # The matrix's body names no manager account that exists.
    Case(
        "POST",
        "/api/admin/api-keys",
        only({"admin": 422}),
        body={"name": "los", "username": "nobody", "scopes": ["applications:read"]},
    ),
    Case("POST", "/api/admin/api-keys/{key}/revoke", only({"admin": 404})),
    Case("GET", "/api/admin/webhooks", only({"admin": 200})),
    Case(
        "POST",
        "/api/admin/webhooks",
        only({"admin": 422}),
        body={"url": "ftp://not-http", "events": ["contract.signed"]},
    ),
    Case("POST", "/api/admin/webhooks/{key}/disable", only({"admin": 404})),
    Case("GET", "/api/admin/webhook-deliveries", only({"admin": 200})),
    Case("GET", "/admin/webhooks", only({"admin": 200}, anon=LOGIN)),
    Case("GET", "/admin/users", only({"admin": 200}, anon=LOGIN)),
    Case("GET", "/api/admin/users", only({"admin": 200})),
    Case(
        "POST",
        "/api/admin/users",
        only({"admin": 201}),
        body={"username": "newcomer", "display_name": "N", "role": "manager"},
    ),
    Case("POST", "/api/admin/users/{spare}/disable", only({"admin": 200})),
    Case("POST", "/api/admin/users/{spare}/enable", only({"admin": 200})),
    Case("POST", "/api/admin/users/{spare}/reset-password", only({"admin": 200})),
    Case("GET", "/api/audit/verify", only({"admin": 200, "compliance": 200})),
    # Last: it ends the session.
    Case("POST", "/api/auth/logout", {**everyone(200), "anon": 401}),
]


def registered_routes(service: Service) -> set[tuple[str, str]]:
    app = service.server.app
    assert app is not None
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        canonical = route.resource.canonical if route.resource else ""
        if canonical == "/static":
            canonical = "/static/{static}"
        found.add((route.method, canonical))
    return found


def normalise(template: str) -> str:
    return (
        template.replace("{app}", "{id}")
        .replace("{invite}", "{invite_id}")
        .replace("{spare}", "{user_id}")
        .replace("{lang}", "{code}")
        .replace("{attempt}", "{attempt_id}")
        .replace("{recording}", "{file}")
        .replace("{digest}", "{sha256}")
        .replace("{key}/revoke", "{key_id}/revoke")
        .replace("webhooks/{key}", "webhooks/{subscription_id}")
    )


def test_the_matrix_names_every_registered_route(service: Service) -> None:
    expected = {(c.method, normalise(c.template)) for c in CASES}
    assert registered_routes(service) == expected


async def test_every_route_with_every_principal(service: Service) -> None:
    await service.add_user("spare", Role.MANAGER)
    app_id = await service.new_application("m1")
    other_app = await service.new_application("m2")
    invite_id, _link = await service.invite_link("m1", app_id)
    browsers: dict[str, Browser] = {
        "anon": service.browser(),
        "applicant": await service.applicant("m1", app_id),
        "applicant_other": await service.applicant("m2", other_app),
        "manager": await service.staff("m1"),
        "manager_other": await service.staff("m2"),
        "compliance": await service.staff("c1"),
        "admin": await service.staff("a1"),
    }
    ids = {
        "app": app_id,
        "invite": invite_id,
        "spare": str(service.user_ids["spare"]),
        "lang": "en",
        "static": "app.css",
        "token": "A" * 22,
        "kind": "id_front",
        "attempt": "00000000-0000-0000-0000-000000000000",
        "task": "00000000-0000-0000-0000-000000000000",
        "recording": "applicant-1.webm",
        "digest": "0" * 64,
        "page": "1",
        "which": "root",
        "request": "AAAA",
        "version": "1",
        "serial": "12345",
        "key": "00000000-0000-0000-0000-000000000000",
    }
    failures = []
    for case in CASES:
        for who in PRINCIPALS:
            body = case.body
            if case.template == "/api/admin/users" and case.method == "POST":
                body = {**case.body, "username": f"new-{who.replace('_', '-')}"}  # type: ignore[dict-item]
            if (
                who == "applicant"
                and (await browsers[who].request("GET", "/api/applicant/application")).status == 401
            ):
                # A case above issued a newer invite, which ended this session
                # (loans.invites.invite_still_admits): the applicant opens the new one.
                browsers[who] = await service.applicant("m1", app_id)
            denials_before = await service.audit_count("authz.denied")
            response = await browsers[who].request(case.method, case.path(ids), json=body)
            expected = case.expect[who]
            if response.status != expected:
                failures.append(
                    f"{case.method} {case.template} as {who}: {response.status} != {expected}"
                    f" {response.text[:120]}"
                )
                continue
            if response.status == 302 and expected == LOGIN and who == "anon":
                assert response.headers["Location"].startswith(("/login", "/"))
            # HTML pages carry no code; their 403s come only from the guards.
            refused = response.status == 403 and (
                response.body is None or response.body["code"] == "forbidden"
            )
            # Every refused authorization leaves exactly one audit entry.
            if refused and await service.audit_count("authz.denied") != denials_before + 1:
                failures.append(f"{case.method} {case.template} as {who}: denial not audited")
            if case.template.startswith("/api/") and response.status >= 400:
                assert set(response.body) >= {"code", "message"}, response.text
    assert not failures, "\n".join(failures)
    assert service.server.app is not None
    assert service.server.app[ENGINE] is service.engine
