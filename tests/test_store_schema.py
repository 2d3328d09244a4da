"""The migrations build exactly the schema the code declares, on both backends."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.database import create_engine
from store.migrate import is_current, upgrade
from store.schema import login_failures, metadata


async def test_migrated_schema_matches_the_declared_tables(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
    assert await is_current(engine)


async def test_upgrade_twice_is_harmless(engine: AsyncEngine) -> None:
    await upgrade(engine)
    assert await is_current(engine)


async def test_nodes_migrating_at_once_build_the_schema_once(database_url: str) -> None:
    """Several nodes start together and each migrates first (the container's
    entrypoint does): they take turns, and each finds the schema current."""
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        assert all([await is_current(engine) for engine in engines])
    finally:
        for engine in engines:
            await engine.dispose()


async def test_datetimes_come_back_aware_utc_on_every_backend(engine: AsyncEngine) -> None:
    shanghai = timezone(timedelta(hours=8))
    at = datetime(2026, 11, 29, 21, 30, 15, 123456, tzinfo=shanghai)
    async with engine.begin() as conn:
        await conn.execute(login_failures.insert().values(key="k", at=at))
        stored = (await conn.execute(select(login_failures.c.at))).scalar_one()
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == at
    assert stored == datetime(2026, 11, 29, 13, 30, 15, 123456, tzinfo=UTC)


async def test_database_errors_do_not_carry_the_statements_values(engine: AsyncEngine) -> None:
    """Errors reach the logs; the values in a failing statement (names, ID numbers,
    tokens) must not."""
    secret = "11010519491231002X"
    async with engine.begin() as conn:
        await conn.execute(login_failures.insert().values(id=1, key="a", at=datetime.now(UTC)))
    with pytest.raises(IntegrityError) as caught:
        async with engine.begin() as conn:
            await conn.execute(
                login_failures.insert().values(id=1, key=secret, at=datetime.now(UTC))
            )
    assert secret not in str(caught.value)
    assert "hidden" in str(caught.value)
