"""Bridges from `cryptography` objects to pyHanko signers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.pki.authority import Credential

Clock = Callable[[], datetime]


def asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def asn1_private_key(key: CertificateIssuerPrivateKeyTypes) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def simple_signer(
    credential: Credential, chain: Iterable[x509.Certificate]
) -> signers.SimpleSigner:
    """A pyHanko signer over a key held in memory; `chain` goes into the CMS certificates."""
    return signers.SimpleSigner(
        signing_cert=asn1_certificate(credential.certificate),
        signing_key=asn1_private_key(credential.key),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_certificate(c) for c in chain]
        ),
        embed_roots=False,
    )
