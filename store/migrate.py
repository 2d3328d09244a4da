"""Running Alembic migrations programmatically against an async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from store.database import MIGRATION_LOCK_KEY, serialise

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""

    def _run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with engine.begin() as conn:
        # Several nodes starting at once each migrate first: one at a time, and
        # the later ones find the schema current.
        await serialise(conn, MIGRATION_LOCK_KEY)
        await conn.run_sync(_run)


async def is_current(engine: AsyncEngine) -> bool:
    """True when the database is at the newest migration."""

    def _check(connection: Connection) -> bool:
        heads = set(ScriptDirectory.from_config(_config(connection)).get_heads())
        current = set(MigrationContext.configure(connection).get_current_heads())
        return current == heads

    async with engine.connect() as conn:
        return await conn.run_sync(_check)
