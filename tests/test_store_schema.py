"""The migrations build exactly the schema the code declares, on both backends."""

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncEngine

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
