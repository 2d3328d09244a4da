"""Delivering one-time codes to the applicant, behind one interface.

`DemoNotifier` is a FAKE for the embedded demo (no SMS gateway can run here): it
keeps the latest code for the manager's console and writes it to the log. Real
deployments use `WebhookNotifier` (the bank's SMS gateway behind an HTTP hook,
signed as every request the service sends, integration/signature.py) or
`SmtpNotifier`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiohttp

from integration.errors import DeliveryFailed
from integration.signature import signed_headers

log = logging.getLogger("signroom.notify")


@dataclass(frozen=True, slots=True)
class CodeMessage:
    application_id: str
    phone: str
    code: str
    contract_number: str
    valid_minutes: int

    @property
    def text(self) -> str:
        return (
            f"您正在签署借款合同{self.contract_number}，验证码{self.code}，"
            f"{self.valid_minutes}分钟内有效。请勿告知他人。"
        )


class Notifier(Protocol):
    # False only for the demo fake, whose codes the manager's console shows: the
    # applicant's page then says to ask the manager instead of to check the phone.
    reaches_applicant: bool

    async def send_code(self, message: CodeMessage) -> None: ...

    def shown_to_manager(self, application_id: str) -> str | None:
        """The code the manager may read out, only for the demo fake; None otherwise."""
        ...


class DemoNotifier:
    """FAKE delivery for the demo: the manager's console shows the code, the log has it."""

    reaches_applicant = False

    def __init__(self) -> None:
        self._latest: dict[str, str] = {}

    async def send_code(self, message: CodeMessage) -> None:
        self._latest[message.application_id] = message.code
        # Deliberate and demo-only: this fake stands in for the SMS the applicant
        # would receive. Real notifiers never log codes.
        log.warning(
            "DEMO notifier: one-time code %s for contract %s",
            message.code,
            message.contract_number,
        )

    def shown_to_manager(self, application_id: str) -> str | None:
        return self._latest.get(application_id)


class WebhookNotifier:
    """POSTs the code, signed, to the bank's SMS gateway."""

    reaches_applicant = True

    def __init__(self, url: str, secret: str) -> None:
        self._url = url
        self._secret = secret

    async def send_code(self, message: CodeMessage) -> None:
        body = json.dumps(
            {"type": "one_time_code", "phone": message.phone, "text": message.text},
            ensure_ascii=False,
        ).encode()
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.post(
                    self._url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        **signed_headers(self._secret, body),
                    },
                ) as response,
            ):
                if response.status >= 300:
                    raise DeliveryFailed(f"the code webhook answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryFailed(f"the code webhook is unreachable: {type(exc).__name__}") from None

    def shown_to_manager(self, application_id: str) -> str | None:
        return None


class SmtpNotifier:
    """Sends the code to `<phone>@<domain>`: the usual shape of an SMS-over-mail gateway."""

    reaches_applicant = True

    def __init__(self, host: str, port: int, sender: str, domain: str) -> None:
        self._host, self._port, self._sender, self._domain = host, port, sender, domain

    def _send(self, message: CodeMessage) -> None:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = f"{message.phone}@{self._domain}"
        mail["Subject"] = "signroom"
        mail.set_content(message.text)
        with smtplib.SMTP(self._host, self._port, timeout=10) as smtp:
            smtp.send_message(mail)

    async def send_code(self, message: CodeMessage) -> None:
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(
                f"the mail gateway refused the code: {type(exc).__name__}"
            ) from None

    def shown_to_manager(self, application_id: str) -> str | None:
        return None
