"""No client input produces a 500 or changes anything: a table of malformed requests
sent to every endpoint that reads input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web_support import APPLICATION, Browser, Service

JSON = {"Content-Type": "application/json"}

# (name, raw body, extra headers). Each is wrong for every JSON endpoint.
BAD_BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("empty", b"", JSON),
    ("truncated", b'{"a": ', JSON),
    ("not utf-8", b'{"a": "\xff\xfe"}', JSON),
    ("array", b"[1, 2]", JSON),
    ("string", b'"text"', JSON),
    ("null", b"null", JSON),
    ("number", b"12", JSON),
    ("nan", b'{"x": NaN}', JSON),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, JSON),
    ("form encoded", b"a=1&b=2", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("no content type", b"{}", {}),
    ("too large for JSON", b'{"x": "' + b"a" * 70_000 + b'"}', JSON),
    ("larger than any request", b'{"x": "' + b"a" * 1_100_000 + b'"}', JSON),
]

# (endpoint, who may call it, a valid body to mutate)
JSON_ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("/api/applications", "manager", dict(APPLICATION)),
    ("/api/applications/{app}/actions", "manager", {"action": "cancel", "comment": "x"}),
    ("/api/applicant/consent", "applicant", {"recording": True, "data_use": True}),
    (
        "/api/admin/users",
        "admin",
        {"username": "valid-name", "display_name": "V", "role": "manager"},
    ),
]


def wrong_types(valid: dict[str, Any]) -> list[dict[str, Any]]:
    """Each field replaced by values of other JSON types, one at a time, plus an
    unknown field and each required field missing."""
    variants: list[dict[str, Any]] = [{**valid, "unexpected": 1}]
    for key, value in valid.items():
        alternatives: tuple[object, ...] = (None, 1, 1.5, True, "7", [], {})
        for other in alternatives:
            if type(other) is not type(value):
                variants.append({**valid, key: other})
        variants.append({k: v for k, v in valid.items() if k != key})
    return variants


async def principals(service: Service) -> tuple[dict[str, Browser], str]:
    app_id = await service.new_application("m1")
    return {
        "manager": await service.staff("m1"),
        "applicant": await service.applicant("m1", app_id),
        "admin": await service.staff("a1"),
    }, app_id


async def snapshot(service: Service) -> tuple[int, int]:
    from sqlalchemy import func, select

    from store.schema import applications, users

    async with service.engine.connect() as conn:
        apps = (await conn.execute(select(func.count()).select_from(applications))).scalar_one()
        staff = (await conn.execute(select(func.count()).select_from(users))).scalar_one()
    return int(apps), int(staff)


def assert_clean_error(response: Any, context: str) -> None:
    assert 400 <= response.status < 500, f"{context}: {response.status} {response.text[:200]}"
    assert isinstance(response.body, dict), f"{context}: not JSON: {response.text[:200]}"
    assert isinstance(response.body.get("code"), str) and response.body["code"], context
    assert isinstance(response.body.get("message"), str) and response.body["message"], context


async def test_malformed_bodies_and_wrong_types_get_4xx_json_and_change_nothing(
    service: Service,
) -> None:
    browsers, app_id = await principals(service)
    audit_before = await service.audit_count()
    data_before = await snapshot(service)
    sent = 0
    for template, who, valid in JSON_ENDPOINTS:
        path = template.format(app=app_id)
        browser = browsers[who]
        for name, raw, headers in BAD_BODIES:
            response = await browser.request("POST", path, data=raw, headers=headers)
            assert_clean_error(response, f"{path} {name}")
            sent += 1
        for body in wrong_types(valid):
            response = await browser.request("POST", path, json=body)
            assert_clean_error(response, f"{path} {body}")
            assert response.status in (409, 413, 415, 422, 400), response.text
            sent += 1
    assert sent > 150
    assert await snapshot(service) == data_before
    assert await service.audit_count() == audit_before


@pytest.mark.parametrize(
    "path",
    [
        "/api/applications/not-a-uuid",
        "/api/applications/00000000-0000-0000-0000-000000000000",
        "/api/applications/" + "9" * 5000,
        "/api/applications/%00",
        "/api/applications/..%2f..%2fetc%2fpasswd/audit",
        "/api/applications?offset=-1",
        "/api/applications?limit=0",
        "/api/applications?limit=100000",
        "/api/applications?limit=abc",
        "/api/applications?state=bogus",
        "/api/nothing-here",
        "/static/../pyproject.toml",
        "/lang/xx",
    ],
)
async def test_bad_paths_and_queries_get_clean_4xx(service: Service, path: str) -> None:
    manager = await service.staff("m1")
    response = await manager.request("GET", path, headers={"Accept": "application/json"})
    assert_clean_error(response, path)


@pytest.mark.parametrize(
    "path",
    [
        "/api/admin/users/abc/disable",
        "/api/admin/users/99999/enable",
        "/api/admin/users/-1/reset-password",
        "/api/applications/00000000-0000-0000-0000-000000000000/invites",
        "/api/applications/00000000-0000-0000-0000-000000000000/invites/x/revoke",
    ],
)
async def test_bad_ids_in_posts_get_clean_4xx(service: Service, path: str) -> None:
    who = "a1" if "admin" in path else "m1"
    browser = await service.staff(who)
    before = await service.audit_count()
    response = await browser.request("POST", path)
    assert_clean_error(response, path)
    # A missing object is not an authorization failure and writes nothing.
    assert await service.audit_count() == before


async def test_wrong_method_is_405_json(service: Service) -> None:
    manager = await service.staff("m1")
    response = await manager.request("DELETE", "/api/applications")
    assert response.status == 405
    assert response.body["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "token", ["", "x", "A" * 22, "A" * 64, "A" * 65, "%00", "' OR 1=1 --", "\u4e2d" * 10]
)
async def test_bad_invite_tokens_show_the_invalid_page(service: Service, token: str) -> None:
    browser = service.browser()
    response = await browser.request("GET", f"/i/{token}", headers={"Accept": "text/html"})
    assert response.status in (404, 410)
    assert "signroom_session" not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    "cookie", ["garbage", "A" * 500, "", "\u00e9t\u00e9", "signroom_session=1"]
)
async def test_garbage_session_cookies_are_anonymous(service: Service, cookie: str) -> None:
    browser = service.browser()
    response = await browser.request(
        "GET", "/api/me", headers={"Cookie": f"signroom_session={cookie}"}
    )
    assert response.status == 401
    assert response.body["code"] == "unauthenticated"
