"""The staff case page offers only what the case's state allows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from loans.states import Action
from tests.web_support import Service, start_service, stop_service


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, sqlite_url)
    await running.add_user("m1", Role.MANAGER)
    yield running
    await stop_service(running)


async def test_the_contract_is_pushed_only_around_the_call_and_cancel_looks_dangerous(
    service: Service,
) -> None:
    app_id = await service.new_application("m1")
    manager = await service.staff("m1")
    page = (await manager.request("GET", f"/staff/applications/{app_id}")).text
    assert 'id="contract-push"' not in page  # a draft: no call yet
    assert 'value="cancel" class="danger"' in page
    await service.invite_link("m1", app_id)
    invited = (await manager.request("GET", f"/staff/applications/{app_id}")).text
    assert 'id="contract-push"' not in invited
    await apps.act(service.engine, SYSTEM_PRINCIPAL, app_id, Action.VERIFY_IDENTITY)
    page = (await manager.request("GET", f"/staff/applications/{app_id}")).text
    assert 'id="contract-push"' in page
    # The call card accepts the applicant; the action form does not start a second way.
    assert 'id="call-accept"' in page and 'value="start_interview"' not in page
