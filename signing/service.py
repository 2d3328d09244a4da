"""The signing service: the CA, the seal, the TSA and the PAdES steps behind one object.

Signing is CPU work (about a hundred milliseconds a step) and PKCS#11 calls block,
so each step runs on a worker thread with its own event loop, never on the
server's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

from signing import pades, seal_cms
from signing.contract.appearance import seal_image
from signing.errors import SealUnavailable
from signing.pki import authority as ca
from signing.pki.event import (
    EVENT_LIFETIME,
    EventCredential,
    SignerIdentity,
    issue_event_credential,
)
from signing.pki.keys import Clock, asn1_certificate, simple_signer
from signing.pki.revocation import build_crl, ocsp_response
from signing.pki.seal import TokenSettings, provision_token_key, seal_signer
from signing.pki.tsa import InProcessTimeStamper, TimeStampAuthority

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SigningSettings:
    pki_dir: Path
    passphrase: bytes
    bank_name: str
    public_url: str
    token: TokenSettings | None = None
    tsa_url: str = ""  # empty: the built-in TSA
    event_lifetime: timedelta = EVENT_LIFETIME


def utc_now() -> datetime:
    return datetime.now(UTC)


async def off_loop(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a worker thread with its own event loop."""
    return await asyncio.to_thread(lambda: asyncio.run(work()))  # type: ignore[arg-type]


class SigningService:
    def __init__(
        self,
        authority: ca.ServiceAuthority,
        settings: SigningSettings,
        clock: Clock = utc_now,
    ) -> None:
        self.authority = authority
        self.settings = settings
        self.clock = clock
        self.tsa = TimeStampAuthority(authority.tsa, [authority.issuing])
        self._seal_png = seal_image(settings.bank_name)

    @classmethod
    def open(cls, settings: SigningSettings, clock: Clock = utc_now) -> SigningService:
        """Load the PKI, creating it on first run; certify the token's seal key if needed."""
        endpoints = ca.Endpoints(settings.public_url.rstrip("/"))
        authority = ca.load_or_create(
            settings.pki_dir,
            settings.passphrase,
            settings.bank_name,
            endpoints,
            clock(),
            seal_key_in_token=settings.token is not None
            and (settings.pki_dir / "seal.token").exists(),
        )
        if settings.token is not None and not (settings.pki_dir / "seal.token").exists():
            certificate = provision_token_key(settings.token, authority, settings.pki_dir, clock())
            (settings.pki_dir / "seal.token").write_text(settings.token.token_label + "\n")
            (settings.pki_dir / "seal.key.pem").unlink(missing_ok=True)
            authority = ca.ServiceAuthority(
                authority.root,
                authority.issuing,
                authority.tsa,
                authority.ocsp,
                certificate,
                None,
                endpoints,
            )
        return cls(authority, settings, clock)

    def trust_roots_der(self) -> list[bytes]:
        return [self.authority.root.certificate.public_bytes(serialization.Encoding.DER)]

    @property
    def seal_png(self) -> bytes:
        return self._seal_png

    def timestamper(self) -> TimeStamper:
        # A fresh one per step: each step runs on its own event loop (off_loop), and
        # an HTTP stamper must not outlive the loop its session belongs to.
        if self.settings.tsa_url:
            return HTTPTimeStamper(self.settings.tsa_url, timeout=10)
        return InProcessTimeStamper(self.tsa, self.clock)

    # Status publication -----------------------------------------------------

    def crl(self, which: str, book: pades.StatusBook) -> bytes:
        now = self.clock()
        if which == "root":
            return build_crl(self.authority.root, book.ca_revocations(), now, int(now.timestamp()))
        return build_crl(self.authority.issuing, book.leaf_revocations(), now, int(now.timestamp()))

    def ocsp(self, request_der: bytes, book: pades.StatusBook) -> bytes:
        return ocsp_response(
            request_der,
            self.authority.issuing.certificate,
            self.authority.ocsp,
            book.leaf_status,
            self.clock(),
        )

    def service_serials(self) -> set[int]:
        a = self.authority
        return {
            a.tsa.certificate.serial_number,
            a.ocsp.certificate.serial_number,
            a.seal_certificate.serial_number,
        }

    # Signing steps -----------------------------------------------------------

    def issue_event_credential(
        self, identity: SignerIdentity, *, test: bool = False
    ) -> EventCredential:
        return issue_event_credential(
            self.authority.issuing,
            self.authority.endpoints,
            identity,
            self.clock(),
            test=test,
            lifetime=self.settings.event_lifetime,
        )

    async def sign_applicant(
        self, pdf: bytes, credential: EventCredential, place: pades.SignatureBox, mark_png: bytes
    ) -> bytes:
        chain = [self.authority.issuing.certificate]
        signer = simple_signer(ca.Credential(credential.certificate, credential.key), chain)
        return await off_loop(
            lambda: pades.sign_as_applicant(pdf, signer, place, self.timestamper(), mark_png)
        )

    async def sign_bank(self, pdf: bytes, place: pades.SignatureBox) -> bytes:
        async def work() -> bytes:
            try:
                with seal_signer(self.authority, self.settings.token) as signer:
                    return await pades.sign_as_bank(
                        pdf, signer, place, self.timestamper(), self._seal_png
                    )
            except pkcs11.PKCS11Error as exc:
                raise SealUnavailable(
                    f"the seal token refused to sign: {type(exc).__name__}", step="bank_sign"
                ) from None

        return await off_loop(work)

    async def seal_statement(self, data: bytes) -> bytes:
        """A timestamped CMS seal over `data` (audit checkpoints, manifests)."""

        async def work() -> bytes:
            try:
                with seal_signer(self.authority, self.settings.token) as signer:
                    return await seal_cms.seal(data, signer, self.timestamper())
            except pkcs11.PKCS11Error as exc:
                raise SealUnavailable(
                    f"the seal token refused to sign: {type(exc).__name__}", step="seal"
                ) from None

        return await off_loop(work)

    async def check_statement(self, data: bytes, sealed: bytes) -> str | None:
        roots = [asn1_certificate(self.authority.root.certificate)]
        return await off_loop(lambda: seal_cms.check_seal(data, sealed, roots))

    def validation_material(
        self, book: pades.StatusBook, leaves: list[x509.Certificate]
    ) -> pades.ValidationMaterial:
        return pades.validation_material(self.authority, book, self.clock(), leaves)

    async def add_long_term_validation(
        self, pdf: bytes, book: pades.StatusBook, signer_certificates: list[x509.Certificate]
    ) -> bytes:
        leaves = [*signer_certificates, self.authority.tsa.certificate]
        return await off_loop(
            lambda: pades.add_long_term_validation(
                pdf, lambda: self.validation_material(book, leaves), self.timestamper()
            )
        )
