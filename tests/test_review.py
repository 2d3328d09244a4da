"""Four-eyes review: a checklist with every decision, approval only when every item is
confirmed, flagged cases back to the manager, no bypass through generic actions; the
ID number revealed only on request, and audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from audit.log import Actor
from kyc.fields import Check, Field
from kyc.reading import DocumentReading
from kyc.records import save_reading
from kyc.workers import DocumentKind
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL, Principal
from loans.roles import Role
from loans.states import Action
from tests.web_support import Service, start_service, stop_service

ALL_DONE = {
    "identity_confirmed": True,
    "acted_voluntarily": True,
    "contract_explained": True,
    "recording_complete": True,
}


@pytest.fixture
async def review_service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    service = await start_service(tmp_path, sqlite_url)
    await service.add_user("m1", Role.MANAGER)
    await service.add_user("c1", Role.COMPLIANCE)
    try:
        yield service
    finally:
        await stop_service(service)


async def case_under_review(service: Service) -> str:
    app_id = await service.new_application("m1")
    manager = Principal(Role.MANAGER, user_id=service.user_ids["m1"])
    await service.invite_link("m1", app_id)
    for principal, action in (
        (SYSTEM_PRINCIPAL, Action.VERIFY_IDENTITY),
        (manager, Action.START_INTERVIEW),
        (SYSTEM_PRINCIPAL, Action.SIGN_CONTRACT),
        (manager, Action.SUBMIT_FOR_REVIEW),
    ):
        await apps.act(service.engine, principal, app_id, action)
    return app_id


async def test_decisions_carry_the_checklist_and_approval_needs_all_of_it(
    review_service: Service,
) -> None:
    service = review_service
    app_id = await case_under_review(service)
    reviewer = await service.staff("c1")
    manager = await service.staff("m1")
    path = f"/api/applications/{app_id}/review"

    partial = {**ALL_DONE, "recording_complete": False}
    refused = await reviewer.request(
        "POST", path, json={"decision": "approve", "checklist": partial}
    )
    assert refused.status == 422 and refused.body["details"]["unchecked"] == ["recording_complete"]
    assert await service.audit_count("review.checklist") == 0
    no_reason = await reviewer.request(
        "POST", path, json={"decision": "flag", "checklist": partial}
    )
    assert no_reason.status == 422
    assert (
        await manager.request("POST", path, json={"decision": "approve", "checklist": ALL_DONE})
    ).status == 403
    bypass = await reviewer.request(
        "POST", f"/api/applications/{app_id}/actions", json={"action": "approve"}
    )
    assert bypass.status == 422

    flagged = await reviewer.request(
        "POST",
        path,
        json={"decision": "flag", "checklist": partial, "comment": "the recording stops early"},
    )
    assert flagged.status == 200 and flagged.body["state"] == "flagged"
    back = await manager.request(
        "POST", f"/api/applications/{app_id}/actions", json={"action": "resubmit"}
    )
    assert back.status == 200 and back.body["state"] == "under_review"
    approved = await reviewer.request(
        "POST", path, json={"decision": "approve", "checklist": ALL_DONE}
    )
    assert approved.status == 200 and approved.body["state"] == "approved"
    assert await service.audit_count("review.checklist") == 2
    page = await reviewer.request("GET", f"/staff/applications/{app_id}")
    assert page.status == 200 and 'id="review"' in page.text


async def test_the_id_number_is_revealed_only_on_request_and_audited(
    review_service: Service,
) -> None:
    service = review_service
    app_id = await service.new_application("m1")
    reviewer = await service.staff("c1")
    missing = await reviewer.request("POST", f"/api/applications/{app_id}/kyc/reveal")
    assert missing.status == 404
    reading = DocumentReading(
        fields={"id_number": Field("11010519491231002X", 0.99)},
        checks=[Check("id_number", True, "ok")],
    )
    await save_reading(
        service.engine, Actor("system", "system"), app_id, DocumentKind.ID_FRONT, "0" * 64, reading
    )
    shown = await reviewer.request("GET", f"/api/applications/{app_id}/kyc")
    assert "11010519491231002X" not in shown.text
    revealed = await reviewer.request("POST", f"/api/applications/{app_id}/kyc/reveal")
    assert revealed.status == 200 and revealed.body["id_number"] == "11010519491231002X"
    assert await service.audit_count("kyc.id_revealed") == 1
    manager = await service.staff("m1")
    assert (await manager.request("POST", f"/api/applications/{app_id}/kyc/reveal")).status == 403


async def test_the_review_list_filters_by_date_manager_flags_and_liveness(
    review_service: Service,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.signing_support import record_liveness_pass

    service = review_service
    await service.add_user("m2", Role.MANAGER)
    flagged = await case_under_review(service)
    reviewer = await service.staff("c1")
    await reviewer.request(
        "POST",
        f"/api/applications/{flagged}/review",
        json={"decision": "flag", "checklist": ALL_DONE, "comment": "redo the explanation"},
    )
    other_manager = await service.new_application("m2")
    await record_liveness_pass(service, other_manager)
    plain = await service.new_application("m1")

    async def ids(query: str) -> set[str]:
        answer = await reviewer.request("GET", f"/api/applications?{query}")
        assert answer.status == 200, answer.text
        return {item["id"] for item in answer.body["items"]}

    today = datetime.now(UTC).date()
    assert await ids("") == {flagged, other_manager, plain}
    assert await ids("flagged=yes") == {flagged}
    assert await ids("flagged=no") == {other_manager, plain}
    assert await ids(f"manager={service.user_ids['m2']}") == {other_manager}
    assert await ids("kyc=passed") == {other_manager}
    assert await ids("kyc=none") == {flagged, plain}  # its identity was set up directly
    assert await ids(f"from={today.isoformat()}&to={today.isoformat()}") == {
        flagged,
        other_manager,
        plain,
    }
    assert await ids(f"to={(today - timedelta(days=1)).isoformat()}") == set()
    assert await ids("state=flagged&manager=" + str(service.user_ids["m1"])) == {flagged}
    for bad in ("from=yesterday", "kyc=maybe", "flagged=perhaps", "manager=x"):
        assert (await reviewer.request("GET", f"/api/applications?{bad}")).status == 400, bad
    page = await reviewer.request("GET", "/compliance?flagged=yes&kyc=none")
    assert page.status == 200 and flagged in page.text and plain not in page.text
    # Paging keeps the filters.
    paged = await reviewer.request("GET", "/compliance?flagged=no&limit=1")
    assert "/compliance?flagged=no&amp;offset=1" in paged.text
