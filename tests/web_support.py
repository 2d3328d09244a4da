"""A running signroom on loopback with a cast of users, and a browser-like client."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, CookieJar
from aiohttp.abc import AbstractCookieJar
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from audit.log import Actor
from config.settings import Settings
from loans.access import Principal
from loans.applications import create_application
from loans.invites import create_invite
from loans.models import ApplicationInput
from loans.roles import Role
from store.blobs import FileBlobStore
from store.database import create_engine
from store.migrate import upgrade
from store.schema import audit_log
from web.app import create_app
from web.auth import users
from web.keys import BIOMETRIC_BLOBS, BLOBS, ENGINE
from web.logs import AccessLogger

PASSWORD = "correct horse battery staple"

APPLICATION = {
    "company_name": "示例科技有限公司",
    "credit_code": "91350100M000100Y43",
    "legal_rep_name": "张三",
    "legal_rep_phone": "13800138000",
    "loan_amount": "150000.00",
    "term_months": 12,
    "annual_rate_percent": "3.85",
    "repayment_method": "equal_instalment",
}


@dataclass
class Response:
    status: int
    body: Any
    headers: CIMultiDict[str]
    text: str


@dataclass
class Browser:
    """One user agent: its own cookie jar and the CSRF token of its session."""

    base: URL
    session: ClientSession = field(init=False)
    csrf: str = ""
    # Another browser's cookies: the same user agent talking to another node.
    jar: AbstractCookieJar | None = None

    def __post_init__(self) -> None:
        self.session = ClientSession(
            base_url=self.base, cookie_jar=self.jar or CookieJar(unsafe=True)
        )

    def at(self, base: URL) -> Browser:
        """This browser (its cookies, its session) reaching `base`, another node."""
        return Browser(base, csrf=self.csrf, jar=self.session.cookie_jar)

    async def close(self) -> None:
        await self.session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        csrf: bool = True,
    ) -> Response:
        sent = {"Accept": "application/json"} if path.startswith("/api/") else {}
        if csrf and self.csrf:
            sent["X-CSRF-Token"] = self.csrf
        sent.update(headers or {})
        payload: Any = data
        if isinstance(data, bytes) and len(data) > 64 * 1024:
            payload = io.BytesIO(data)  # aiohttp warns about sending large raw bytes
        async with self.session.request(
            method, path, json=json, data=payload, headers=sent, allow_redirects=False
        ) as resp:
            text = await resp.text(errors="replace")
            body: Any = None
            if resp.content_type == "application/json":
                body = await resp.json()
            return Response(resp.status, body, CIMultiDict(resp.headers), text)

    async def login(self, username: str, password: str = PASSWORD) -> Response:
        page = await self.request("GET", "/login")
        token = re.search(r'data-prelogin="([^"]+)"', page.text)
        assert token, "login page carries a pre-login token"
        response = await self.request(
            "POST",
            "/api/auth/login",
            json={"username": username, "password": password},
            headers={"X-CSRF-Token": token.group(1)},
            csrf=False,
        )
        if response.status == 200:
            await self.refresh_csrf()
        return response

    async def refresh_csrf(self) -> None:
        me = await self.request("GET", "/api/me")
        assert me.status == 200, me.text
        self.csrf = me.body["csrf_token"]

    async def open_invite(self, link: str) -> Response:
        response = await self.request("GET", URL(link).path)
        if response.status == 303:
            await self.refresh_csrf()
        return response


@dataclass
class Service:
    server: TestServer
    settings: Settings
    engine: AsyncEngine
    user_ids: dict[str, int]
    browsers: list[Browser] = field(default_factory=list)

    @property
    def base(self) -> URL:
        return self.server.make_url("")

    def browser(self) -> Browser:
        browser = Browser(self.base)
        self.browsers.append(browser)
        return browser

    async def staff(self, username: str) -> Browser:
        browser = self.browser()
        response = await browser.login(username)
        assert response.status == 200, response.text
        return browser

    async def add_user(self, username: str, role: Role) -> int:
        user = await users.create_user(
            self.engine,
            Actor("cli", "admin"),
            username=username,
            display_name=username,
            role=role.value,
            password=PASSWORD,
        )
        self.user_ids[username] = user.id
        return user.id

    async def new_application(self, manager: str) -> str:
        principal = Principal(Role.MANAGER, user_id=self.user_ids[manager])
        app = await create_application(
            self.engine,
            principal,
            ApplicationInput.parse(**APPLICATION),  # type: ignore[arg-type]
        )
        return app.id

    async def invite_link(self, manager: str, application_id: str) -> tuple[str, str]:
        principal = Principal(Role.MANAGER, user_id=self.user_ids[manager])
        invite, token = await create_invite(
            self.engine, principal, application_id, ttl=self.settings.invite_ttl
        )
        return invite.id, str(self.base.with_path(f"/i/{token}"))

    async def applicant(self, manager: str, application_id: str) -> Browser:
        _invite_id, link = await self.invite_link(manager, application_id)
        browser = self.browser()
        response = await browser.open_invite(link)
        assert response.status == 303, response.text
        return browser

    async def blob(self, digest: str) -> bytes:
        assert self.server.app is not None
        return await self.server.app[BLOBS].get(digest)

    async def biometric_blob(self, digest: str) -> bytes:
        assert self.server.app is not None
        return await self.server.app[BIOMETRIC_BLOBS].get(digest)

    async def recording_blob(self, application_id: str, name: str) -> Path:
        """Where the file blob store keeps the recording the audit log names `name`
        (for a test to alter it behind the service's back)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(audit_log.c.details).where(
                    audit_log.c.application_id == application_id,
                    audit_log.c.action.in_(["call.segment_recorded", "call.segment_recovered"]),
                )
            )
            digests = {d["file"]: d["sha256"] for d in (json.loads(r.details) for r in rows)}
        assert self.server.app is not None
        blobs = self.server.app[BLOBS]
        assert isinstance(blobs, FileBlobStore)
        return blobs.path_for(digests[name])

    async def audit_count(self, action: str | None = None) -> int:
        query = select(func.count()).select_from(audit_log)
        if action:
            query = query.where(audit_log.c.action == action)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())


# The journeys run on ArcFace (InsightFace's research model, from its wheel): the
# engine a bank runs with its own licensed model. dlib, the product's default,
# has its own tests (tests/test_kyc_faces.py runs each face test on both engines).
# tests/conftest.py sets it for direct calls, worker processes and subprocesses.
FACE_ENGINE = "arcface"


async def start_service(
    tmp_path: Path, database_url: str, *, port: int | None = None, **overrides: Any
) -> Service:
    """The app on loopback; with `port`, its public URL (written into the CA's
    certificates for OCSP and CRLs) is the address it really listens on."""
    settings = Settings.from_mapping(
        {
            "database_url": database_url,
            "data_dir": str(tmp_path / "var"),
            "public_url": f"http://127.0.0.1:{port or 8080}",
            "face_engine": FACE_ENGINE,
            **overrides,
        }
    )
    migrate_engine = create_engine(database_url)
    await upgrade(migrate_engine)
    await migrate_engine.dispose()
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server(access_log_class=AccessLogger)
    return Service(server, settings, app[ENGINE], {})


async def stop_service(service: Service) -> None:
    for browser in service.browsers:
        await browser.close()
    await service.server.close()
