"""Contract template versions: the built-in text is version 1, admins add newer ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit import log as audit
from signing.actions import ContractAction
from signing.contract.render import builtin_template
from signing.contract.workers import ContractRenderer
from store.rows import newest_row, record_from_row
from store.schema import contract_templates


@dataclass(frozen=True, slots=True)
class Template:
    version: int
    body: str
    note: str
    created_by: str
    created_at: datetime


async def current_template(engine: AsyncEngine) -> Template:
    """The newest template version; the built-in text becomes version 1 on first use."""
    async with engine.begin() as conn:
        row = await newest_row(conn, contract_templates, contract_templates.c.version)
        if row is None:
            return await _insert_template(
                conn, audit.SYSTEM, builtin_template(), "built-in template", None
            )
    return record_from_row(Template, row)


async def _insert_template(
    conn: AsyncConnection, actor: audit.Actor, body: str, note: str, request_id: str | None
) -> Template:
    now = datetime.now(UTC)
    latest = (await conn.execute(select(func.max(contract_templates.c.version)))).scalar_one()
    version = int(latest or 0) + 1
    await conn.execute(
        contract_templates.insert().values(
            version=version, body=body, note=note, created_by=actor.id, created_at=now
        )
    )
    await audit.append(
        conn,
        actor,
        ContractAction.TEMPLATE_SAVED,
        request_id=request_id,
        details={
            "version": version,
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "note": note,
        },
        at=now,
    )
    return Template(version, body, note, actor.id, now)


async def save_template(
    engine: AsyncEngine,
    renderer: ContractRenderer,
    actor: audit.Actor,
    body: str,
    note: str,
    *,
    request_id: str | None = None,
) -> Template:
    await renderer.check(body)
    await current_template(engine)  # the built-in text keeps version 1
    async with engine.begin() as conn:
        return await _insert_template(conn, actor, body, note, request_id)


async def list_templates(engine: AsyncEngine) -> list[Template]:
    await current_template(engine)
    async with engine.connect() as conn:
        rows = (
            (await conn.execute(select(contract_templates).order_by(contract_templates.c.version)))
            .mappings()
            .all()
        )
    return [record_from_row(Template, r) for r in rows]


async def get_template(engine: AsyncEngine, version: int) -> Template | None:
    await current_template(engine)
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(contract_templates).where(contract_templates.c.version == version)
                )
            )
            .mappings()
            .first()
        )
    return record_from_row(Template, row) if row else None
