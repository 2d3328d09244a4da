"""Event certificates: one applicant, one signature, a few minutes.

The key pair is generated here, used for exactly one signature and then dropped:
it is never serialised, stored or logged, so at signing time the signing data is
under the signer's sole control (Electronic Signature Law of the PRC, Art. 13).
The ID number appears only as a salted SHA-256, with the salt kept as evidence.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from signing.pki.authority import Credential, Endpoints
from signing.pki.certificates import issue, name, new_key, signer_profile
from signing.pki.policies import (
    EVENT_CERTIFICATE_POLICY,
    TEST_CERTIFICATE_POLICY,
    TEST_SUBJECT_MARK,
)

# Long enough for the three signing steps; a deployment may shorten it (tests do).
EVENT_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SignerIdentity:
    """What identity verification established about the person signing."""

    name: str
    id_number: str
    company: str


@dataclass(frozen=True, slots=True)
class EventCredential:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    id_hash: str
    id_hash_salt: str  # hex; with the ID number it reproduces id_hash


def id_number_hash(id_number: str, salt_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + id_number.encode("ascii")).hexdigest()


def issue_event_credential(
    issuing: Credential,
    endpoints: Endpoints,
    identity: SignerIdentity,
    now: datetime,
    *,
    test: bool = False,
    lifetime: timedelta = EVENT_LIFETIME,
) -> EventCredential:
    salt = secrets.token_hex(16)
    digest = id_number_hash(identity.id_number, salt)
    key = new_key()
    common_name = f"{identity.name} ({TEST_SUBJECT_MARK})" if test else identity.name
    certificate = issue(
        subject=name(
            common_name,
            identity.company,
            unit="TEST" if test else "signroom event certificate",
            serial_number=f"IDSHA256:{digest}",
        ),
        public_key=key.public_key(),
        issuer=issuing.certificate,
        issuer_key=issuing.key,
        profile=signer_profile(TEST_CERTIFICATE_POLICY if test else EVENT_CERTIFICATE_POLICY),
        not_before=now,
        lifetime=lifetime,
        publication=endpoints.leaf_publication,
    )
    return EventCredential(certificate, key, digest, salt)
