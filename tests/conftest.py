"""Shared fixtures: databases on both backends, the web app, a browser-like client,
and Debian's Chromium for the tests marked `browser`."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import async_playwright
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from loans.roles import Role
from localcluster.errors import ServerUnavailable
from localcluster.postgres import PostgresServer
from localcluster.seaweedfs import SeaweedServer
from store.database import create_engine
from store.migrate import upgrade
from tests.browser_support import Chromium, chromium_missing
from tests.web_support import FACE_ENGINE, Service, start_service, stop_service

# Before any worker process or subprocess starts, so that they all inherit it.
os.environ["SIGNROOM_FACE_ENGINE"] = FACE_ENGINE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `browser` skip, saying why, where Chromium is not installed."""
    missing = chromium_missing()
    if missing is None:
        return
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture
async def chromium() -> AsyncIterator[Chromium]:
    """Launches Chromium for one test; every browser it launched closes afterwards,
    also when the test fails."""
    async with async_playwright() as playwright:
        launcher = Chromium(playwright)
        try:
            yield launcher
        finally:
            await launcher.close()


def unavailable(what: str, exc: Exception) -> None:
    """Skip, saying why; in CI, where `make test` installs every server, fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI: {exc}")
    pytest.skip(f"{what} not available: {exc}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the session."""
    given = os.environ.get("SIGNROOM_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    try:
        server = PostgresServer()
        server.start()
    except ServerUnavailable as exc:
        unavailable("PostgreSQL", exc)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedServer]:
    """An S3-compatible server (SeaweedFS) for the session, its bucket made."""
    try:
        server = SeaweedServer()
        server.start()
    except ServerUnavailable as exc:
        unavailable("SeaweedFS", exc)
    try:
        yield server
    finally:
        server.stop()


async def _create_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"signroom_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'signroom.db'}"
    server_url: str = request.getfixturevalue("postgres_url")
    return await _create_database(server_url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'signroom.db'}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database on each backend."""
    eng = create_engine(database_url)
    await upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    """signroom on loopback (SQLite) with managers m1 and m2, compliance c1, admin a1."""
    running = await start_service(tmp_path, sqlite_url)
    for username, role in (
        ("m1", Role.MANAGER),
        ("m2", Role.MANAGER),
        ("c1", Role.COMPLIANCE),
        ("a1", Role.ADMIN),
    ):
        await running.add_user(username, role)
    yield running
    await stop_service(running)
