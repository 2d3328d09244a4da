"""Code notifiers: the webhook posts a signed JSON body, SMTP delivers a mail (to a
real SMTP server on loopback), failures are clear errors; the demo FAKE keeps the
code for the manager's console."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller

from integration.errors import DeliveryFailed
from integration.notify import CodeMessage, DemoNotifier, SmtpNotifier, WebhookNotifier
from tests.signing_support import free_port

MESSAGE = CodeMessage("app-1", "13800138000", "482913", "HT2026112900000001", 5)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[TestServer, list[tuple[bytes, str, str]]]]:
    received: list[tuple[bytes, str, str]] = []

    async def accept(request: web.Request) -> web.Response:
        headers = request.headers
        received.append(
            (await request.read(), headers["Signroom-Timestamp"], headers["Signroom-Signature"])
        )
        return web.Response(status=204)

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/sms", accept)
    app.router.add_post("/broken", refuse)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, received
    await server.close()


async def test_the_webhook_is_signed_as_webhook_events_are(
    hook: tuple[TestServer, list[tuple[bytes, str, str]]],
) -> None:
    server, received = hook
    await WebhookNotifier(str(server.make_url("/sms")), "hook secret").send_code(MESSAGE)
    body, timestamp, signature = received[0]
    # The receiver's check from README: the timestamp is inside the MAC.
    expected = hmac.new(b"hook secret", f"{timestamp}.".encode() + body, hashlib.sha256)
    assert signature == f"v1={expected.hexdigest()}"
    assert abs(int(timestamp) - time.time()) < 60
    payload = json.loads(body)
    assert payload["phone"] == "13800138000" and "482913" in payload["text"]
    with pytest.raises(DeliveryFailed, match="HTTP 500"):
        await WebhookNotifier(str(server.make_url("/broken")), "s").send_code(MESSAGE)
    with pytest.raises(DeliveryFailed, match="unreachable"):
        await WebhookNotifier(f"http://127.0.0.1:{free_port()}/", "s").send_code(MESSAGE)


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


async def test_smtp_delivers_to_the_gateway_address() -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        notifier = SmtpNotifier("127.0.0.1", port, "signroom@bank.example", "sms.bank.example")
        await notifier.send_code(MESSAGE)
    finally:
        await asyncio.to_thread(controller.stop)
    mail = inbox.mails[0]
    assert mail["To"] == "13800138000@sms.bank.example"
    assert "482913" in mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    with pytest.raises(DeliveryFailed):
        await SmtpNotifier("127.0.0.1", free_port(), "a@b", "c").send_code(MESSAGE)
    assert notifier.shown_to_manager("app-1") is None


async def test_the_demo_fake_shows_the_code_only_to_its_case() -> None:
    demo = DemoNotifier()
    await demo.send_code(MESSAGE)
    assert demo.shown_to_manager("app-1") == "482913"
    assert demo.shown_to_manager("app-2") is None


def test_only_the_demo_fake_leaves_the_code_with_the_manager() -> None:
    assert not DemoNotifier().reaches_applicant
    assert WebhookNotifier("https://sms.bank.example/", "s").reaches_applicant
    assert SmtpNotifier("127.0.0.1", 25, "a@b", "c").reaches_applicant
