"""Creating the async engine for the configured database URL.

One code path for both backends; the differences live here and in the migration's
triggers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from store.errors import UnsupportedDatabase

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/signroom.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

# Arbitrary constants naming PostgreSQL advisory locks (see `serialise`).
AUDIT_APPEND_LOCK_KEY = 0x5167_6E52_6F6F_6D01
LOGIN_THROTTLE_LOCK_KEY = 0x5167_6E52_6F6F_6D02
CHECKPOINT_LOCK_KEY = 0x5167_6E52_6F6F_6D03
MIGRATION_LOCK_KEY = 0x5167_6E52_6F6F_6D04


def create_engine(url: str) -> AsyncEngine:
    """Build an engine for `url` (sqlite+aiosqlite or postgresql+asyncpg).

    Its errors never carry the statement's parameters (hide_parameters): they hold
    names, ID numbers and tokens, and errors reach the logs."""
    parsed = make_url(url)
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise UnsupportedDatabase(
            f"database URL must start with one of {', '.join(SUPPORTED_DRIVERS)}; "
            f"got {parsed.drivername!r}"
        )
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(url, parsed.database)
    return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_engine(url: str, database: str | None) -> AsyncEngine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over BEGIN from the driver so that every transaction starts with
        # BEGIN IMMEDIATE (below): SQLite then grants the write lock up front, so
        # appends to the audit chain are serialised across connections and
        # processes, and a read-then-write transaction never fails with
        # SQLITE_BUSY on lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        deferred = conn.get_execution_options().get(_READ_ONLY_OPTION)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


_READ_ONLY_OPTION = "signroom_read_only"


def read_only(engine: AsyncEngine) -> AsyncConnection:
    """A connection for long reads that write nothing (verifying the whole audit log,
    listing pages). On SQLite it begins a deferred transaction, which in WAL mode
    reads a snapshot without holding the write lock, so writers are not stalled.
    Use it with `async with`."""
    return engine.execution_options(**{_READ_ONLY_OPTION: True}).connect()


async def serialise(conn: AsyncConnection, lock_key: int) -> None:
    """Make the rest of this transaction run alone among those taking `lock_key`
    (across connections, processes and nodes).

    SQLite transactions already hold the database write lock (BEGIN IMMEDIATE);
    PostgreSQL takes a transaction-scoped advisory lock.
    """
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(lock_key)})")


async def lock_audit_chain(conn: AsyncConnection) -> None:
    """Serialise audit appends for the rest of this transaction."""
    await serialise(conn, AUDIT_APPEND_LOCK_KEY)


def redacted_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)
