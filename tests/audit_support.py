"""Helpers that write audit rows and tamper with them behind the log's back."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit

ACTOR = audit.Actor("user:1", "manager")


async def fill(engine: AsyncEngine, n: int) -> None:
    for i in range(n):
        async with engine.begin() as conn:
            await audit.append(
                conn,
                ACTOR,
                "test.event",
                application_id="app-1",
                details={"i": i, "note": f"第{i}条"},
            )


async def behind_the_back(engine: AsyncEngine, *statements: str) -> None:
    """Run raw SQL with the append-only triggers out of the way, as an attacker with
    database access would."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        else:
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_extend_head"):
                await conn.exec_driver_sql(f"DROP TRIGGER {name}")
        for statement in statements:
            await conn.exec_driver_sql(statement)
