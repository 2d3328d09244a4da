"""Seeding the demo bank: three staff accounts and one invited application.

Idempotent: a second run leaves existing accounts alone (their passwords are not
shown again) and does not add another application.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import Actor
from config.settings import Settings
from loans.access import Principal
from loans.applications import create_application
from loans.invites import create_invite
from loans.models import ApplicationInput
from loans.roles import Role
from store.schema import applications
from web.auth import users
from web.auth.passwords import generate_password

DEMO_ACTOR = Actor("cli", "admin")

DEMO_STAFF = (
    ("manager", "王经理 (demo manager)", Role.MANAGER),
    ("compliance", "李合规 (demo compliance)", Role.COMPLIANCE),
    ("admin", "系统管理员 (demo admin)", Role.ADMIN),
)

DEMO_APPLICATION = ApplicationInput.parse(
    company_name="示例科技有限公司",
    # A valid GB 32100 check character, but no registered company.
    credit_code="91350100M000100Y43",
    legal_rep_name="张三",
    legal_rep_phone="13800138000",
    loan_amount="150000.00",
    term_months=12,
    annual_rate_percent="3.85",
    repayment_method="equal_instalment",
)


async def seed(engine: AsyncEngine, settings: Settings) -> int:
    print("demo bank staff accounts:")
    manager_id: int | None = None
    for username, display_name, role in DEMO_STAFF:
        existing = await users.get_user(engine, username=username)
        if existing is not None:
            print(f"  {role.value:<10} {username:<10} (exists; password unchanged)")
            user_id = existing.id
        else:
            password = generate_password()
            user = await users.create_user(
                engine,
                DEMO_ACTOR,
                username=username,
                display_name=display_name,
                role=role.value,
                password=password,
            )
            user_id = user.id
            print(f"  {role.value:<10} {username:<10} password: {password}")
        if role is Role.MANAGER:
            manager_id = user_id
    assert manager_id is not None
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(applications))).scalar_one()
    if count:
        print("demo application exists already; create invites from the manager dashboard")
        return 0
    manager = Principal(Role.MANAGER, user_id=manager_id)
    app = await create_application(engine, manager, DEMO_APPLICATION)
    _invite, token = await create_invite(engine, manager, app.id, ttl=settings.invite_ttl)
    print(f"demo application {app.id} ({app.company_name})")
    print(f"applicant invite link: {settings.public_url.rstrip('/')}/i/{token}")
    print(f"staff sign-in: {settings.public_url.rstrip('/')}/login")
    return 0
