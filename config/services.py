"""Services built from the settings: the signing service and the code notifier."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from config.settings import Settings
from integration.notify import DemoNotifier, Notifier, SmtpNotifier, WebhookNotifier
from signing.pki.seal import TokenSettings
from signing.service import SigningService, SigningSettings


def _passphrase(settings: Settings) -> bytes:
    if settings.pki_passphrase:
        return settings.pki_passphrase.encode()
    # Demo only (see Settings.pki_passphrase): generated once, kept beside the keys.
    path: Path = settings.pki_dir / "passphrase"
    settings.pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def signing_settings(settings: Settings) -> SigningSettings:
    token = None
    if settings.seal_pkcs11_module:
        token = TokenSettings(
            module=settings.seal_pkcs11_module,
            token_label=settings.seal_pkcs11_token,
            pin=settings.seal_pkcs11_pin,
            key_label=settings.seal_pkcs11_key_label,
        )
    return SigningSettings(
        pki_dir=settings.pki_dir,
        passphrase=_passphrase(settings),
        bank_name=settings.bank_name,
        public_url=settings.public_url,
        token=token,
        tsa_url=settings.tsa_url,
        event_lifetime=timedelta(seconds=settings.event_certificate_seconds),
    )


def open_signing(settings: Settings) -> SigningService:
    return SigningService.open(signing_settings(settings))


def make_notifier(settings: Settings) -> Notifier:
    if settings.notifier == "webhook":
        return WebhookNotifier(settings.notifier_webhook_url, settings.notifier_webhook_secret)
    if settings.notifier == "smtp":
        return SmtpNotifier(
            settings.notifier_smtp_host,
            settings.notifier_smtp_port,
            settings.notifier_smtp_sender,
            settings.notifier_smtp_domain,
        )
    return DemoNotifier()
