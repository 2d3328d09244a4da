"""The signalling WebSocket itself: a table of malformed messages each gets an
error on the socket, which stays open and keeps working; someone else's call is
refused before the upgrade and the refusal is audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import WSMsgType
from sqlalchemy import update

from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from loans.states import Action
from store.schema import call_placements
from tests.signalling_corpus import MALFORMED
from tests.web_support import Browser, Service, start_service, stop_service
from web import signalling_sockets
from web.keys import CALLS, SIGNALLING_SOCKETS


@pytest.fixture
async def service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, sqlite_url)
    await running.add_user("m1", Role.MANAGER)
    await running.add_user("m2", Role.MANAGER)
    yield running
    await stop_service(running)


async def call_in_progress(service: Service) -> tuple[str, Browser, Browser]:
    """A case in interview whose call the manager accepted; the applicant's browser
    opened the invitation before (invitations close with the interview)."""
    application_id = await service.new_application("m1")
    applicant = await service.applicant("m1", application_id)
    await apps.act(service.engine, SYSTEM_PRINCIPAL, application_id, Action.VERIFY_IDENTITY)
    manager = await service.staff("m1")
    accepted = await manager.request("POST", f"/api/applications/{application_id}/call")
    assert accepted.status == 200, accepted.text
    return application_id, manager, applicant


async def test_malformed_messages_get_errors_on_an_open_socket(service: Service) -> None:
    application_id, manager, _applicant = await call_in_progress(service)
    async with manager.session.ws_connect(f"/api/calls/{application_id}/signal") as socket:
        hello = json.loads((await socket.receive(timeout=5)).data)
        assert hello == {"type": "peer", "state": "waiting"}
        for raw, code in MALFORMED:
            if isinstance(raw, bytes):
                await socket.send_bytes(raw)
                expected = "bad_json"
            else:
                await socket.send_str(raw)
                expected = code
            reply = await socket.receive(timeout=5)
            assert reply.type is WSMsgType.TEXT, (raw, reply)
            body = json.loads(reply.data)
            assert body["type"] == "error" and body["code"] == expected, (raw, body)
        await socket.send_str(json.dumps({"type": "candidate", "candidate": {"candidate": ""}}))
        early = json.loads((await socket.receive(timeout=5)).data)
        assert early["code"] == "no_offer"
        await socket.send_str('{"type": "ping"}')
        assert json.loads((await socket.receive(timeout=5)).data) == {"type": "pong"}
        assert not socket.closed
    # The call is still there for a proper connection.
    again = await manager.request("GET", f"/api/calls/{application_id}/ice")
    assert again.status == 200


async def test_a_message_over_the_socket_limit_closes_only_that_socket(service: Service) -> None:
    application_id, manager, _applicant = await call_in_progress(service)
    async with manager.session.ws_connect(f"/api/calls/{application_id}/signal") as socket:
        await socket.receive(timeout=5)
        await socket.send_str("x" * 300_000)
        closing = await socket.receive(timeout=5)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    async with manager.session.ws_connect(f"/api/calls/{application_id}/signal") as socket:
        await socket.receive(timeout=5)
        await socket.send_str('{"type": "ping"}')
        assert json.loads((await socket.receive(timeout=5)).data) == {"type": "pong"}


async def test_someone_elses_call_is_refused_and_audited(service: Service) -> None:
    application_id, _manager, _applicant = await call_in_progress(service)
    other = await service.staff("m2")
    denials = await service.audit_count("authz.denied")
    refused = await other.request("GET", f"/api/calls/{application_id}/signal")
    assert refused.status == 403
    assert await service.audit_count("authz.denied") == denials + 1
    stranger = service.browser()
    assert (await stranger.request("GET", f"/api/calls/{application_id}/signal")).status == 401


async def test_a_foreign_origin_cannot_open_the_socket(service: Service) -> None:
    application_id, manager, _applicant = await call_in_progress(service)
    refused = await manager.request(
        "GET",
        f"/api/calls/{application_id}/signal",
        headers={"Origin": "https://evil.example", "Upgrade": "websocket", "Connection": "Upgrade"},
    )
    assert refused.status == 403


async def test_a_call_left_behind_by_a_lost_node_moves_here_and_is_joined_again(
    service: Service,
) -> None:
    """The node holding the call went away without ending it (a crash; here, the
    placement names a node nobody heartbeats as): the first look at the call moves
    it to this node under the next epoch, audited, and both sides join it."""
    application_id, manager, applicant = await call_in_progress(service)
    assert service.server.app is not None
    calls = service.server.app[CALLS]
    async with service.engine.begin() as conn:
        await conn.execute(
            update(call_placements)
            .where(call_placements.c.application_id == application_id)
            .values(node_id="a-node-that-died")
        )
    calls.hosted.forget(application_id)
    queued = await applicant.request("POST", "/api/applicant/call/queue")
    assert queued.status == 200 and queued.body["state"] == "in_call", queued.text
    assert await service.audit_count("call.node_lost") == 1
    placement = await calls.placements.current(application_id)
    assert placement is not None and (placement.node_id, placement.epoch) == (calls.node_id, 2)
    assert (await manager.request("GET", "/api/calls/queue")).body["waiting"] == []
    async with manager.session.ws_connect(f"/api/calls/{application_id}/signal") as socket:
        assert json.loads((await socket.receive(timeout=5)).data) == {
            "type": "peer",
            "state": "waiting",
        }
        await socket.send_str('{"type": "ping"}')
        assert json.loads((await socket.receive(timeout=5)).data) == {"type": "pong"}
    # Noticed once: another look finds it here and moves nothing.
    assert (await applicant.request("POST", "/api/applicant/call/queue")).body["state"] == "in_call"
    assert await service.audit_count("call.node_lost") == 1


async def test_a_participant_holds_one_socket_however_many_they_open(service: Service) -> None:
    """Each newer socket (a reload, another device) closes the one before: twenty
    opened in turn leave one open, and the call still works on it."""
    application_id, manager, _applicant = await call_in_progress(service)
    opened = []
    for _ in range(20):
        socket = await manager.session.ws_connect(f"/api/calls/{application_id}/signal")
        await socket.receive(timeout=5)  # the peer state
        opened.append(socket)
    for older in opened[:-1]:
        told = await older.receive(timeout=5)
        assert json.loads(told.data) == {"type": "ended", "reason": "joined_elsewhere"}
        closing = await older.receive(timeout=5)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), closing
    assert service.server.app is not None
    assert len(service.server.app[SIGNALLING_SOCKETS]) == 1
    newest = opened[-1]
    await newest.send_str('{"type": "ping"}')
    assert json.loads((await newest.receive(timeout=5)).data) == {"type": "pong"}
    assert not service.server.app[CALLS].get(application_id).ended  # type: ignore[union-attr]
    for socket in opened:
        await socket.close()


async def test_revoking_the_invite_closes_the_applicants_open_socket(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket was authorised once, at the upgrade: revoking the invite it was
    opened with must end it too, and leave the manager's socket alone."""
    monkeypatch.setattr(signalling_sockets, "SESSION_RECHECK_SECONDS", 0.2)
    application_id = await service.new_application("m1")
    invite_id, link = await service.invite_link("m1", application_id)
    applicant = service.browser()
    assert (await applicant.open_invite(link)).status == 303
    await apps.act(service.engine, SYSTEM_PRINCIPAL, application_id, Action.VERIFY_IDENTITY)
    manager = await service.staff("m1")
    accepted = await manager.request("POST", f"/api/applications/{application_id}/call")
    assert accepted.status == 200, accepted.text
    theirs = await applicant.session.ws_connect(f"/api/calls/{application_id}/signal")
    ours = await manager.session.ws_connect(f"/api/calls/{application_id}/signal")
    await theirs.receive(timeout=5)
    await ours.receive(timeout=5)
    await theirs.send_str('{"type": "ping"}')
    assert json.loads((await theirs.receive(timeout=5)).data) == {"type": "pong"}
    revoked = await manager.request(
        "POST", f"/api/applications/{application_id}/invites/{invite_id}/revoke"
    )
    assert revoked.status == 200, revoked.text
    while (message := await theirs.receive(timeout=10)).type is WSMsgType.TEXT:
        pass  # the manager's side is told the applicant left
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), message
    assert theirs.close_code == 1008
    # The shut-out session cannot open another.
    again = await applicant.request("GET", f"/api/calls/{application_id}/signal")
    assert again.status == 401
    await ours.send_str('{"type": "ping"}')
    while (reply := json.loads((await ours.receive(timeout=5)).data)) != {"type": "pong"}:
        assert reply["type"] == "peer", reply
    await ours.close()
