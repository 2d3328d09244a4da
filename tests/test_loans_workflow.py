"""The workflow against a real database (SQLite and PostgreSQL): every change comes
with its audit entry, refusals write nothing, invites behave as links must."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit.verify import verify_log
from loans import applications as apps
from loans import invites
from loans.access import SYSTEM_PRINCIPAL, Principal
from loans.consent import record_consent
from loans.errors import (
    ActionForbidden,
    ConcurrentChange,
    ConsentRequired,
    InvalidApplication,
    InviteUnusable,
    TransitionNotAllowed,
)
from loans.expiry import expire_lapsed
from loans.models import ApplicationInput
from loans.roles import Role
from loans.states import Action, State
from store.schema import applications, audit_log, users
from store.schema import invites as invites_table
from tests.web_support import APPLICATION

TTL = timedelta(hours=72)


async def staff(engine: AsyncEngine, username: str, role: Role) -> Principal:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        result = await conn.execute(
            users.insert()
            .values(
                username=username,
                display_name=username,
                role=role.value,
                password_hash="x",
                disabled=False,
                created_at=now,
                password_changed_at=now,
            )
            .returning(users.c.id)
        )
        return Principal(role, user_id=result.scalar_one())


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def actions_logged(engine: AsyncEngine, application_id: str) -> list[str]:
    async with engine.connect() as conn:
        return [e.action for e in await audit.entries_for_application(conn, application_id)]


async def new_app(engine: AsyncEngine, manager: Principal) -> str:
    data = ApplicationInput.parse(**APPLICATION)  # type: ignore[arg-type]
    return (await apps.create_application(engine, manager, data)).id


async def test_full_lifecycle_is_audited_and_the_chain_stays_intact(engine: AsyncEngine) -> None:
    manager = await staff(engine, "m1", Role.MANAGER)
    reviewer = await staff(engine, "c1", Role.COMPLIANCE)
    app_id = await new_app(engine, manager)
    _invite, token = await invites.create_invite(engine, manager, app_id, ttl=TTL)
    opened = await invites.open_invite(engine, token)
    applicant = Principal(Role.APPLICANT, application_id=app_id, invite_id=opened.id)
    await record_consent(engine, applicant, recording=True, data_use=True, language="zh-CN")
    await apps.act(engine, SYSTEM_PRINCIPAL, app_id, Action.VERIFY_IDENTITY)
    await apps.act(engine, manager, app_id, Action.START_INTERVIEW)
    await apps.act(engine, SYSTEM_PRINCIPAL, app_id, Action.SIGN_CONTRACT)
    await apps.act(engine, manager, app_id, Action.SUBMIT_FOR_REVIEW)
    await apps.act(engine, reviewer, app_id, Action.FLAG, comment="recording incomplete")
    await apps.act(engine, manager, app_id, Action.RESUBMIT)
    final = await apps.act(engine, reviewer, app_id, Action.APPROVE)
    assert final.state is State.APPROVED
    assert await actions_logged(engine, app_id) == [
        "application.created",
        "application.transition",  # invite: draft -> invited
        "invite.created",
        "invite.opened",
        # Recording and personal data: one record each.
        "consent.given",
        "consent.given",
        *["application.transition"] * 7,
    ]
    async with engine.connect() as conn:
        trail = await audit.entries_for_application(conn, app_id)
        assert (await verify_log(conn)).ok
    flag = next(e for e in trail if e.details.get("action") == "flag")
    assert flag.details == {
        "action": "flag",
        "from": "under_review",
        "to": "flagged",
        "comment": "recording incomplete",
    }
    created = trail[0].details
    assert created["legal_rep_phone"] == "138****8000"
    assert "13800138000" not in str([e.details for e in trail])
    assert token not in str([e.details for e in trail])


async def test_refused_actions_write_nothing_but_the_denial(engine: AsyncEngine) -> None:
    m1 = await staff(engine, "m1", Role.MANAGER)
    m2 = await staff(engine, "m2", Role.MANAGER)
    reviewer = await staff(engine, "c1", Role.COMPLIANCE)
    app_id = await new_app(engine, m1)
    before = await count(engine, audit_log)
    with pytest.raises(TransitionNotAllowed):
        await apps.act(engine, m1, app_id, Action.SUBMIT_FOR_REVIEW)
    with pytest.raises(TransitionNotAllowed):
        await apps.act(engine, reviewer, app_id, Action.APPROVE)
    with pytest.raises(InvalidApplication):
        await apps.act(engine, m1, app_id, Action.CANCEL)  # no reason given
    assert await count(engine, audit_log) == before
    with pytest.raises(ActionForbidden):
        await apps.act(engine, m2, app_id, Action.CANCEL, comment="not mine")
    with pytest.raises(ActionForbidden):
        await apps.get_application(engine, m2, app_id)
    assert await count(engine, audit_log) == before + 2
    async with engine.connect() as conn:
        row = (await conn.execute(select(applications).where(applications.c.id == app_id))).one()
    assert row.state == "draft" and row.version == 1


async def test_the_cases_own_manager_can_never_review_it(engine: AsyncEngine) -> None:
    manager = await staff(engine, "m1", Role.MANAGER)
    app_id = await new_app(engine, manager)
    async with engine.begin() as conn:
        await conn.execute(
            update(applications).where(applications.c.id == app_id).values(state="under_review")
        )
    # Even holding the compliance role (say, after a role change), the same person
    # may not decide on their own case.
    same_person = Principal(Role.COMPLIANCE, user_id=manager.user_id)
    with pytest.raises(ActionForbidden):
        await apps.act(engine, same_person, app_id, Action.APPROVE)


async def test_concurrent_actions_on_one_case_only_one_wins(engine: AsyncEngine) -> None:
    manager = await staff(engine, "m1", Role.MANAGER)
    app_id = await new_app(engine, manager)
    results = await asyncio.gather(
        *(apps.act(engine, manager, app_id, Action.CANCEL, comment=f"c{i}") for i in range(5)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(
        isinstance(r, ConcurrentChange | TransitionNotAllowed)
        for r in results
        if isinstance(r, BaseException)
    )
    assert (await actions_logged(engine, app_id)).count("application.transition") == 1


async def test_invites_are_stored_hashed_single_application_expiring_revocable(
    engine: AsyncEngine,
) -> None:
    manager = await staff(engine, "m1", Role.MANAGER)
    app_id = await new_app(engine, manager)
    invite, token = await invites.create_invite(engine, manager, app_id, ttl=TTL)
    assert len(token) >= 22  # 128 bits in URL-safe base64
    async with engine.connect() as conn:
        stored = (await conn.execute(select(invites_table))).mappings().one()
    assert token not in str(dict(stored))
    assert stored["token_hash"] == invites.hash_token(token)
    assert (await invites.open_invite(engine, token)).application_id == app_id

    await invites.revoke_invite(engine, manager, app_id, invite.id)
    with pytest.raises(InviteUnusable):
        await invites.open_invite(engine, token)

    _second, token2 = await invites.create_invite(engine, manager, app_id, ttl=TTL)
    async with engine.begin() as conn:
        await conn.execute(
            update(invites_table)
            .where(invites_table.c.token_hash == invites.hash_token(token2))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(InviteUnusable):
        await invites.open_invite(engine, token2)
    refusals = [a for a in await actions_logged(engine, app_id) if a == "invite.refused"]
    assert len(refusals) == 2

    assert await expire_lapsed(engine) == 1
    assert (await apps.get_application(engine, manager, app_id)).state is State.EXPIRED
    # A new invite re-opens an expired case.
    _third, token3 = await invites.create_invite(engine, manager, app_id, ttl=TTL)
    assert (await apps.get_application(engine, manager, app_id)).state is State.INVITED
    assert await expire_lapsed(engine) == 0
    assert (await invites.open_invite(engine, token3)).application_id == app_id


async def test_invites_for_closed_cases_are_refused(engine: AsyncEngine) -> None:
    manager = await staff(engine, "m1", Role.MANAGER)
    app_id = await new_app(engine, manager)
    _invite, token = await invites.create_invite(engine, manager, app_id, ttl=TTL)
    await apps.act(engine, manager, app_id, Action.CANCEL, comment="customer withdrew")
    with pytest.raises(InviteUnusable):
        await invites.open_invite(engine, token)
    with pytest.raises(TransitionNotAllowed):
        await invites.create_invite(engine, manager, app_id, ttl=TTL)


async def test_consent_needs_both_agreements_and_is_recorded_once(engine: AsyncEngine) -> None:
    manager = await staff(engine, "m1", Role.MANAGER)
    app_id = await new_app(engine, manager)
    invite, _token = await invites.create_invite(engine, manager, app_id, ttl=TTL)
    applicant = Principal(Role.APPLICANT, application_id=app_id, invite_id=invite.id)
    with pytest.raises(ConsentRequired):
        await record_consent(engine, applicant, recording=True, data_use=False, language="en")
    first = await record_consent(engine, applicant, recording=True, data_use=True, language="en")
    again = await record_consent(engine, applicant, recording=True, data_use=True, language="en")
    assert first == again and first.given
    assert sorted(first.records) == ["personal_data", "recording"]
    assert (await actions_logged(engine, app_id)).count("consent.given") == 2
    with pytest.raises(ActionForbidden):
        await record_consent(engine, manager, recording=True, data_use=True, language="en")
