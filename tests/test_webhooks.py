"""Webhooks: signed deliveries from a persistent outbox survive a receiver that fails,
times out and recovers, and a service restart, with nothing lost or sent twice."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from audit.checkpoints import export_problems, make_checkpoint
from audit.log import iter_entries
from loans.roles import Role
from store.schema import webhook_deliveries, webhook_subscriptions
from tests.web_support import Service, start_service, stop_service
from web.keys import SIGNING

FAST: dict[str, Any] = {
    "webhook_poll_ms": "100",
    "webhook_backoff_ms": "200",
    "webhook_timeout_seconds": "1",
    # The receivers here listen on loopback, which webhooks otherwise never reach.
    "webhook_allowed_networks": "127.0.0.1/32",
}


@dataclass
class Receiver:
    mode: str = "ok"  # ok | fail | hang
    received: list[tuple[str, dict[str, object], str, str]] = field(default_factory=list)
    refused: int = 0
    hang_seconds: float = 3

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.mode == "fail":
            self.refused += 1
            return web.Response(status=503)
        if self.mode == "hang":
            self.refused += 1
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=200)  # too late: the sender gave up at 1 s
        self.received.append(
            (
                request.headers["Signroom-Event-Id"],
                json.loads(body),
                request.headers["Signroom-Timestamp"],
                request.headers["Signroom-Signature"],
            )
        )
        return web.Response(status=204)


async def moved(request: web.Request) -> web.Response:
    raise web.HTTPTemporaryRedirect("/hook")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/hook", state.handle)
    app.router.add_post("/moved", moved)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield state, str(server.make_url("/hook"))
    await server.close()


async def subscribe(service: Service, url: str, events: list[str]) -> str:
    admin = await service.staff("a1")
    created = await admin.request(
        "POST", "/api/admin/webhooks", json={"url": url, "events": events}
    )
    assert created.status == 201, created.text
    return str(created.body["secret"])


async def invited_cases(service: Service, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        app_id = await service.new_application("m1")
        await service.invite_link("m1", app_id)  # draft -> invited: one state change each
        ids.append(app_id)
    return ids


async def until(condition: object, seconds: float = 20) -> None:
    for _ in range(int(seconds * 20)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def verify(secret: str, timestamp: str, body: dict[str, object], signature: str) -> bool:
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return hmac.compare_digest(signature, f"v1={expected.hexdigest()}")


async def users(service: Service) -> None:
    await service.add_user("m1", Role.MANAGER)
    await service.add_user("a1", Role.ADMIN)


async def test_deliveries_survive_an_outage_and_timeouts(
    tmp_path: Path, sqlite_url: str, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    service = await start_service(tmp_path, sqlite_url, **FAST)
    try:
        await users(service)
        secret = await subscribe(service, url, ["application.state_changed"])
        state.mode = "fail"
        cases = await invited_cases(service, 3)
        await until(lambda: state.refused >= 6)  # every event refused at least twice
        state.mode = "hang"
        refused = state.refused
        await until(lambda: state.refused > refused)
        await asyncio.sleep(1.2)
        state.mode = "ok"
        await until(lambda: len(state.received) >= 3)
        await asyncio.sleep(1.0)  # anything sent twice would arrive by now
        ids = Counter(event_id for event_id, *_ in state.received)
        assert len(ids) == 3 and set(ids.values()) == {1}, ids
        for _event_id, body, timestamp, signature in state.received:
            assert verify(secret, timestamp, body, signature)
            assert body["type"] == "application.state_changed"
            assert body["data"] == {"action": "invite", "from": "draft", "to": "invited"}
        assert {b["application_id"] for _, b, _, _ in state.received} == set(cases)
        admin = await service.staff("a1")
        log = (await admin.request("GET", "/api/admin/webhook-deliveries")).body
        assert {d["status"] for d in log} == {"delivered"}
        assert all(d["attempts"] >= 3 for d in log)
        page = await admin.request("GET", "/admin/webhooks")
        assert page.status == 200 and "evt_" in page.text
        metrics = (await admin.request("GET", "/metrics")).text
        assert 'signroom_webhook_deliveries_total{result="retry"}' in metrics
        assert "signroom_webhook_queue_depth 0.0" in metrics
    finally:
        await stop_service(service)


async def test_nothing_is_lost_or_repeated_across_a_restart(
    tmp_path: Path, sqlite_url: str, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    # The first service polls once a minute: its events are still in the audit log,
    # not yet in the outbox, when it stops.
    first = await start_service(tmp_path, sqlite_url, **{**FAST, "webhook_poll_ms": "60000"})
    try:
        await users(first)
        await subscribe(first, url, ["application.state_changed"])
        before = await invited_cases(first, 2)
    finally:
        await stop_service(first)
    state.mode = "fail"
    second = await start_service(tmp_path, sqlite_url, **FAST)
    try:
        second.user_ids.update({"m1": 1, "a1": 2})
        await until(lambda: state.refused >= 2)
        after = await invited_cases(second, 1)
    finally:
        await stop_service(second)  # while the receiver is still down
    state.mode = "ok"
    third = await start_service(tmp_path, sqlite_url, **FAST)
    try:
        await until(lambda: len(state.received) >= 3)
        await asyncio.sleep(1.0)
    finally:
        await stop_service(third)
    ids = Counter(event_id for event_id, *_ in state.received)
    assert len(ids) == 3 and set(ids.values()) == {1}, ids
    assert {b["application_id"] for _, b, _, _ in state.received} == set(before + after)


async def test_checkpoints_reach_an_outside_archive_over_http(
    tmp_path: Path, sqlite_url: str, receiver: tuple[Receiver, str]
) -> None:
    """An archive that stores each audit.checkpoint event as a file ends up with what
    checkpoint_export_dir holds, and `audit verify --exported` accepts it."""
    state, url = receiver
    exported = tmp_path / "exported"
    service = await start_service(tmp_path, sqlite_url, **FAST, checkpoint_export_dir=str(exported))
    try:
        await users(service)
        secret = await subscribe(service, url, ["audit.checkpoint"])
        seal = service.server.app[SIGNING].seal_statement
        for _ in range(2):
            await invited_cases(service, 2)
            checkpoint = await make_checkpoint(service.engine, seal, "manual", export_dir=exported)
            assert checkpoint is not None
        await until(lambda: len(state.received) >= 2)
        archive = tmp_path / "archive"
        archive.mkdir()
        for _event_id, body, timestamp, signature in state.received:
            assert verify(secret, timestamp, body, signature)
            assert body["type"] == "audit.checkpoint" and body["application_id"] is None
            data = body["data"]
            assert isinstance(data, dict)
            size = int(data["statement"]["tree_size"])
            (archive / f"checkpoint-{size:012d}.json").write_text(json.dumps(data))
            from_dir = json.loads((exported / f"checkpoint-{size:012d}.json").read_text())
            assert data == from_dir
        async with service.engine.connect() as conn:
            entries = [entry async for entry in iter_entries(conn)]
        assert export_problems(entries, archive) == []
    finally:
        await stop_service(service)


async def test_subscriptions_are_checked(tmp_path: Path, sqlite_url: str) -> None:
    service = await start_service(tmp_path, sqlite_url)
    try:
        await users(service)
        admin = await service.staff("a1")
        for body in (
            {"url": "ftp://example.com/x", "events": ["contract.signed"]},
            {"url": "https://example.com/x", "events": []},
            {"url": "https://example.com/x", "events": ["no.such_event"]},
        ):
            answer = await admin.request("POST", "/api/admin/webhooks", json=body)
            assert answer.status == 422, body
        # Places a webhook must never reach unless the operator allows them.
        for url in (
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/hook",
            "http://[::ffff:127.0.0.1]:8080/hook",
            "http://0x7f000001:8080/hook",
            "http://2130706433:8080/hook",
            "http://127.1:8080/hook",
            "http://localhost:8080/hook",
            "http://db.localhost/hook",
            "http://10.1.2.3/hook",
            "http://192.168.0.10/hook",
            "http://0.0.0.0:8080/hook",
            "https://example.com:22/hook",
        ):
            body = {"url": url, "events": ["contract.signed"]}
            answer = await admin.request("POST", "/api/admin/webhooks", json=body)
            assert answer.status == 422, url
            assert "not sent there" in answer.body["message"], answer.body
        assert (await admin.request("GET", "/api/admin/webhooks")).body == []
    finally:
        await stop_service(service)


def test_every_event_type_comes_from_its_audit_entry() -> None:
    from datetime import UTC, datetime

    from integration.events import EventType, events_from

    at = datetime(2026, 11, 29, tzinfo=UTC)
    cases: list[tuple[str, dict[str, Any], set[EventType]]] = [
        (
            "application.transition",
            {"action": "approve", "from": "under_review", "to": "approved"},
            {EventType.APPLICATION_STATE_CHANGED, EventType.REVIEW_DECIDED},
        ),
        (
            "application.transition",
            {"action": "start_interview", "from": "identity_verified", "to": "in_interview"},
            {EventType.APPLICATION_STATE_CHANGED, EventType.CALL_STARTED},
        ),
        (
            "kyc.document_read",
            {"kind": "id_front", "checks": {"id_number": True, "expiry": False}},
            {EventType.KYC_RESULT},
        ),
        ("kyc.face_match", {"decision": "match", "distance": "0.31"}, {EventType.KYC_RESULT}),
        ("kyc.liveness", {"status": "passed"}, {EventType.KYC_RESULT}),
        (
            "call.ended",
            {"reason": "manager_ended", "duration_seconds": "300.0"},
            {EventType.CALL_ENDED},
        ),
        (
            "contract.signed",
            {"contract_id": "c", "document_sha256": "0" * 64},
            {EventType.CONTRACT_SIGNED},
        ),
        (
            "audit.checkpoint",
            {"tree_size": 5, "tree_root": "ab", "reason": "manual", "export": {"x": 1}},
            {EventType.AUDIT_CHECKPOINT},
        ),
        ("auth.login", {"username": "m1"}, set()),
    ]
    seen: set[str] = set()
    for seq, (action, details, expected) in enumerate(cases, start=1):
        events = list(events_from(seq, action, "app-1", details, at))
        assert {e.type for e in events} == expected, action
        for event in events:
            assert event.id not in seen
            seen.add(event.id)
            payload = json.dumps(event.payload())
            assert "m1" not in payload
    document = next(events_from(3, cases[2][0], "app-1", cases[2][1], at))
    assert document.data == {"check": "document", "kind": "id_front", "passed": False}


async def test_a_redirect_is_not_followed_and_a_hanging_receiver_holds_up_no_one(
    tmp_path: Path, sqlite_url: str, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    slow = Receiver(mode="hang", hang_seconds=10)  # takes 10 s to answer each delivery
    slow_app = web.Application()
    slow_app.router.add_post("/hook", slow.handle)
    slow_server = TestServer(slow_app, host="127.0.0.1")
    await slow_server.start_server()
    service = await start_service(tmp_path, sqlite_url, **{**FAST, "webhook_timeout_seconds": "30"})
    try:
        await users(service)
        await subscribe(service, str(slow_server.make_url("/hook")), ["application.state_changed"])
        await subscribe(service, url.replace("/hook", "/moved"), ["application.state_changed"])
        await subscribe(service, url, ["application.state_changed"])
        await invited_cases(service, 3)
        # The direct subscriber has all three while the slow one is on its first.
        await until(lambda: len(state.received) >= 3, seconds=8)
        assert slow.refused <= 1
        await asyncio.sleep(1.5)
        # The redirecting subscriber's copies never reached /hook.
        assert len(state.received) == 3
        async with service.engine.connect() as conn:
            statuses = {r.last_status for r in (await conn.execute(select(webhook_deliveries)))}
        assert 307 in statuses, statuses
    finally:
        await stop_service(service)
        await slow_server.close()


async def test_deliveries_reach_no_refused_address(
    tmp_path: Path, sqlite_url: str, receiver: tuple[Receiver, str]
) -> None:
    """Subscriptions stored before destinations were checked, or naming a host that
    resolves inside: the receiver listening there is never contacted."""
    state, url = receiver
    port = url.rsplit(":", 1)[1].split("/")[0]
    service = await start_service(tmp_path, sqlite_url, **{**FAST, "webhook_allowed_networks": ""})
    try:
        await users(service)
        # One through the API (it starts the outbox's cursor); it fails on DNS here.
        await subscribe(service, "https://example.com/hook", ["application.state_changed"])
        async with service.engine.begin() as conn:
            for index, outside in enumerate(
                (url, f"http://localhost:{port}/hook", f"http://[::ffff:127.0.0.1]:{port}/hook")
            ):
                await conn.execute(
                    webhook_subscriptions.insert().values(
                        id=f"00000000-0000-0000-0000-00000000000{index}",
                        url=outside,
                        secret="old secret",
                        events='["application.state_changed"]',
                        created_by=service.user_ids["a1"],
                        created_at=datetime.now(UTC),
                    )
                )
        await invited_cases(service, 2)

        async def errors() -> set[str]:
            async with service.engine.connect() as conn:
                rows = (await conn.execute(select(webhook_deliveries.c.last_error))).all()
            return {row.last_error for row in rows}

        for _ in range(100):
            tried = await errors()
            if tried and None not in tried:
                break
            await asyncio.sleep(0.1)
        seen = await errors()
        assert state.received == [] and state.refused == 0
        assert "destination_refused" in seen, seen  # the literal addresses
        assert seen - {"destination_refused"}, seen  # localhost, refused when resolved
        assert None not in seen
    finally:
        await stop_service(service)
