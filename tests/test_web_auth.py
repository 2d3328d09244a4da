"""Sign-in, sessions, CSRF, throttling, invites-to-sessions, headers and logs."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from config.errors import ConfigError
from loans import applications as apps
from loans.access import Principal
from loans.invites import ANONYMOUS_REFUSALS_AUDITED
from loans.roles import Role
from loans.states import Action
from store.schema import audit_log, invites, sessions
from tests.web_support import PASSWORD, Browser, Service, start_service, stop_service
from web.routes.applicant import DEVICE_CHECKS_PER_HOUR


async def test_login_sets_a_locked_down_cookie_and_logout_ends_the_session(
    service: Service,
) -> None:
    browser = service.browser()
    page = await browser.request("GET", "/login")
    assert page.status == 200
    response = await browser.login("m1")
    assert response.status == 200
    assert response.body == {"redirect": "/manager", "role": "manager"}
    cookie = response.headers["Set-Cookie"]
    assert "signroom_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the TLS test below
    me = await browser.request("GET", "/api/me")
    assert me.body["username"] == "m1" and me.body["role"] == "manager"
    out = await browser.request("POST", "/api/auth/logout")
    assert out.status == 200
    assert (await browser.request("GET", "/api/me")).status == 401
    async with service.engine.connect() as conn:
        assert (await conn.execute(select(sessions))).first() is None


async def test_wrong_password_and_unknown_user_look_the_same(service: Service) -> None:
    wrong = await service.browser().login("m1", "not the password")
    unknown = await service.browser().login("nobody", "not the password")
    assert wrong.status == unknown.status == 401
    assert wrong.body["message"] == unknown.body["message"]
    assert await service.audit_count("auth.login_failed") == 2


async def test_login_without_the_pages_token_is_refused(service: Service) -> None:
    browser = service.browser()
    response = await browser.request(
        "POST", "/api/auth/login", json={"username": "m1", "password": PASSWORD}
    )
    assert response.status == 403
    assert response.body["code"] == "csrf_failed"


async def test_repeated_failures_throttle_even_the_right_password(service: Service) -> None:
    browser = service.browser()
    for _ in range(service.settings.login_max_failures):
        assert (await browser.login("m1", "guess guess guess")).status == 401
    blocked = await browser.login("m1")
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert await service.audit_count("auth.login_throttled") == 1
    # Another user from the same address is blocked too (address key).
    assert (await service.browser().login("m2")).status == 429


async def test_parallel_guesses_cannot_outrun_the_throttle(service: Service) -> None:
    """Many sign-ins at once for one user: the check and the failure it counts are
    one step, so no more than the limit are ever checked, and the right password
    that follows is still refused."""
    limit = service.settings.login_max_failures
    browsers = [service.browser() for _ in range(6 * limit)]
    answers = await asyncio.gather(*(b.login("m1", "guess guess guess") for b in browsers))
    statuses = sorted(a.status for a in answers)
    assert statuses.count(401) == limit, statuses
    assert set(statuses) == {401, 429}, statuses
    assert await service.audit_count("auth.login_failed") == limit
    assert (await service.browser().login("m1")).status == 429


async def test_state_changes_need_the_sessions_csrf_token(service: Service) -> None:
    manager = await service.staff("m1")
    app_id = await service.new_application("m1")
    before = await service.audit_count()
    for token in (None, "wrong"):
        headers = {"X-CSRF-Token": token} if token else {}
        response = await manager.request(
            "POST", f"/api/applications/{app_id}/invites", headers=headers, csrf=False
        )
        assert response.status == 403
        assert response.body["code"] == "csrf_failed"
    assert await service.audit_count() == before
    assert (await manager.request("POST", f"/api/applications/{app_id}/invites")).status == 201


async def test_cross_origin_posts_are_refused(service: Service) -> None:
    manager = await service.staff("m1")
    response = await manager.request(
        "POST", "/api/auth/logout", headers={"Origin": "https://evil.example"}
    )
    assert response.status == 403
    assert (await manager.request("GET", "/api/me")).status == 200


async def _age_sessions(service: Service, **values: datetime) -> None:
    async with service.engine.begin() as conn:
        await conn.execute(update(sessions).values(**values))


async def test_idle_sessions_end(service: Service) -> None:
    manager = await service.staff("m1")
    idle = service.settings.session_idle + timedelta(seconds=1)
    await _age_sessions(service, last_seen_at=datetime.now(UTC) - idle)
    assert (await manager.request("GET", "/api/me")).status == 401


async def test_sessions_end_at_their_absolute_lifetime_even_when_active(
    service: Service,
) -> None:
    manager = await service.staff("m1")
    await _age_sessions(service, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await manager.request("GET", "/api/me")).status == 401


async def test_disabling_a_user_ends_their_sessions_and_sign_in(service: Service) -> None:
    manager = await service.staff("m2")
    admin = await service.staff("a1")
    user_id = service.user_ids["m2"]
    assert (await admin.request("POST", f"/api/admin/users/{user_id}/disable")).status == 200
    assert (await manager.request("GET", "/api/me")).status == 401
    assert (await service.browser().login("m2")).status == 401
    assert (await admin.request("POST", f"/api/admin/users/{user_id}/enable")).status == 200
    assert (await service.browser().login("m2")).status == 200


async def test_password_reset_ends_sessions_and_only_the_new_password_works(
    service: Service,
) -> None:
    manager = await service.staff("m2")
    admin = await service.staff("a1")
    reset = await admin.request("POST", f"/api/admin/users/{service.user_ids['m2']}/reset-password")
    new_password = reset.body["password"]
    assert (await manager.request("GET", "/api/me")).status == 401
    assert (await service.browser().login("m2")).status == 401
    assert (await service.browser().login("m2", new_password)).status == 200


async def test_admin_cannot_disable_themselves(service: Service) -> None:
    admin = await service.staff("a1")
    response = await admin.request("POST", f"/api/admin/users/{service.user_ids['a1']}/disable")
    assert response.status == 409


async def test_invite_link_starts_an_applicant_session_and_leaves_the_url(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app_id = await service.new_application("m1")
    _invite_id, link = await service.invite_link("m1", app_id)
    token = link.rsplit("/", 1)[1]
    applicant = service.browser()
    opened = await applicant.open_invite(link)
    assert opened.status == 303 and opened.headers["Location"] == "/apply"
    page = await applicant.request("GET", "/apply")
    assert page.status == 200 and "示例科技有限公司" in page.text
    consent = await applicant.request(
        "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
    )
    assert consent.status == 200
    assert (await applicant.request("GET", "/api/applicant/application")).body["consent_given"]
    # Neither the token, nor the password, nor the phone number reach the logs.
    await service.staff("m1")
    assert "/i/<token>" in caplog.text
    for secret in (token, PASSWORD, "13800138000"):
        assert secret not in caplog.text
    async with service.engine.connect() as conn:
        details = " ".join(r.details for r in (await conn.execute(select(audit_log))).all())
    assert token not in details and "13800138000" not in details


async def test_an_applicant_session_ends_with_the_invite_it_was_opened_with(
    service: Service,
) -> None:
    """Revoking the invite, a newer invite, the invite's expiry and the case's
    cancellation each end the sessions opened with it: none can read the case,
    consent, or spend its liveness attempts any more."""
    app_id = await service.new_application("m1")
    manager = Principal(Role.MANAGER, user_id=service.user_ids["m1"])

    async def opened() -> tuple[str, Browser]:
        invite_id, link = await service.invite_link("m1", app_id)
        browser = service.browser()
        assert (await browser.open_invite(link)).status == 303
        assert (await browser.request("GET", "/api/applicant/application")).status == 200
        return invite_id, browser

    async def shut_out(browser: Browser) -> None:
        assert (await browser.request("GET", "/api/applicant/application")).status == 401
        consent = await browser.request(
            "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
        )
        assert consent.status in (401, 403), consent.text
        assert (await browser.request("POST", "/api/applicant/liveness")).status in (
            401,
            403,
        )

    revoked_id, revoked = await opened()
    staff = await service.staff("m1")
    answer = await staff.request("POST", f"/api/applications/{app_id}/invites/{revoked_id}/revoke")
    assert answer.status == 200, answer.text
    await shut_out(revoked)

    _first_id, first = await opened()
    _second_id, second = await opened()
    await shut_out(first)  # replaced by the newer invite
    assert (await second.request("GET", "/api/applicant/application")).status == 200

    async with service.engine.begin() as conn:
        await conn.execute(
            update(invites).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    await shut_out(second)

    _last_id, last = await opened()
    await apps.act(service.engine, manager, app_id, Action.CANCEL, comment="applicant withdrew")
    await shut_out(last)
    async with service.engine.connect() as conn:
        left = (await conn.execute(select(sessions).where(sessions.c.kind == "applicant"))).all()
    assert left == []
    consents = await service.audit_count("consent.given")
    assert consents == 0


async def test_security_headers_on_pages_and_api(service: Service) -> None:
    browser = service.browser()
    for path in ("/login", "/api/me", "/nope"):
        response = await browser.request("GET", path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in response.headers
        assert response.headers.get("X-Request-Id"), (path, response.headers)


async def test_behind_a_tls_proxy_hsts_and_secure_cookies(tmp_path: Path, sqlite_url: str) -> None:
    running = await start_service(tmp_path, sqlite_url, trust_forwarded_proto="true")
    try:
        from loans.roles import Role

        await running.add_user("m1", Role.MANAGER)
        browser = running.browser()
        page = await browser.request("GET", "/login", headers={"X-Forwarded-Proto": "https"})
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Secure" in page.headers["Set-Cookie"]
    finally:
        await stop_service(running)


async def test_language_follows_accept_language_and_the_switch(service: Service) -> None:
    browser = service.browser()
    english = await browser.request("GET", "/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Staff sign-in" in english.text and 'lang="en"' in english.text
    chinese = await browser.request("GET", "/login", headers={"Accept-Language": "zh-CN"})
    assert "员工登录" in chinese.text
    switched = await browser.request("GET", "/lang/en?next=//evil.example/")
    assert switched.headers["Location"] == "/"
    after = await browser.request("GET", "/login", headers={"Accept-Language": "zh-CN"})
    assert "Staff sign-in" in after.text


async def test_readiness_fails_when_the_data_disk_cannot_take_files(
    tmp_path: Path, sqlite_url: str
) -> None:
    """A full disk fails recordings and uploads midway: the node is not ready."""
    roomy = await start_service(tmp_path / "roomy", sqlite_url)
    try:
        assert (await roomy.browser().request("GET", "/readyz")).status == 200
    finally:
        await stop_service(roomy)
    free_mb = shutil.disk_usage(tmp_path).free // (1024 * 1024)
    full = await start_service(tmp_path / "full", sqlite_url, min_free_disk_mb=free_mb + 1024)
    try:
        full.settings.data_dir.mkdir(parents=True, exist_ok=True)
        answer = await full.browser().request("GET", "/readyz")
        assert answer.status == 503, answer.text
        assert "MB free, below the minimum" in answer.body["message"]
        assert (await full.browser().request("GET", "/healthz")).status == 200
    finally:
        await stop_service(full)


async def test_nobody_grows_the_audit_log_cheaply(service: Service) -> None:
    """Random invite links are refused every time but audited only up to a bound,
    and an applicant's device check is recorded at most DEVICE_CHECKS_PER_HOUR
    times an hour."""
    anonymous = service.browser()
    for n in range(ANONYMOUS_REFUSALS_AUDITED + 15):
        refused = await anonymous.request("GET", f"/i/{'A' * 20}{n:02d}")
        assert refused.status == 410
    assert await service.audit_count("invite.refused") == ANONYMOUS_REFUSALS_AUDITED

    app_id = await service.new_application("m1")
    applicant = await service.applicant("m1", app_id)
    await applicant.request(
        "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
    )
    report = {"camera": True, "microphone": True, "webrtc": True, "recorder": True, "rtt_ms": 40}
    for _ in range(DEVICE_CHECKS_PER_HOUR):
        answer = await applicant.request("POST", "/api/applicant/device-check", json=report)
        assert answer.status == 200, answer.text
    flood = await applicant.request("POST", "/api/applicant/device-check", json=report)
    assert flood.status == 429 and int(flood.headers["Retry-After"]) > 0
    assert await service.audit_count("applicant.device_checked") == DEVICE_CHECKS_PER_HOUR


async def test_readiness_and_the_log_say_which_face_model_runs_under_which_licence(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signroom.web")
    research = await start_service(tmp_path / "arcface", sqlite_url)
    try:
        ready = await research.browser().request("GET", "/readyz")
        assert ready.status == 200
        model = ready.body["face_model"]
        assert (model["engine"], model["model"]) == ("arcface", "w600k_mbf.onnx")
        assert "non-commercial" in model["licence"] and len(model["sha256"]) == 64
        assert "face engine arcface, model w600k_mbf.onnx" in caplog.text
        assert "Apache-2.0" in ready.body["pad_model"]
        assert "presentation-attack model MiniFASNet" in caplog.text
    finally:
        await stop_service(research)
    clean = await start_service(tmp_path / "dlib", sqlite_url, face_engine="dlib")
    try:
        model = (await clean.browser().request("GET", "/readyz")).body["face_model"]
        assert model["engine"] == "dlib" and model["licence"].startswith("CC0")
    finally:
        await stop_service(clean)
    # A model signroom has no thresholds for does not start.
    own = tmp_path / "own.onnx"
    own.write_bytes(b"a bank's model, uncalibrated")
    with pytest.raises(ConfigError, match="kyc calibrate"):
        await start_service(tmp_path / "own", sqlite_url, face_model=str(own))
