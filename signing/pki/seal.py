"""The bank's seal key: in a PKCS#11 token in production, a key file for the demo.

With a token, the private key is generated inside it (never exportable) and only
its certificate lives on disk; every signature opens a session, signs, and closes
it, so a token that was removed or locked shows up as `SealUnavailable` at the
step that needed it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign import signers
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

from signing.errors import SealUnavailable
from signing.pki.authority import (
    SEAL_LIFETIME,
    Credential,
    ServiceAuthority,
    replace_seal_certificate,
)
from signing.pki.certificates import issue, signer_profile
from signing.pki.keys import asn1_certificate, simple_signer
from signing.pki.policies import SEAL_CERTIFICATE_POLICY


@dataclass(frozen=True, slots=True)
class TokenSettings:
    module: str  # path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
    token_label: str
    pin: str
    key_label: str = "signroom-seal"


def _open(settings: TokenSettings) -> pkcs11.Session:
    try:
        return open_pkcs11_session(
            settings.module,
            token_criteria=TokenCriteria(label=settings.token_label),
            user_pin=settings.pin,
        )
    except (pkcs11.PKCS11Error, OSError, RuntimeError) as exc:
        # The exception text names the failure class, never the PIN.
        raise SealUnavailable(
            f"cannot open PKCS#11 token {settings.token_label!r}: {type(exc).__name__}",
            step="bank_sign",
        ) from None


def provision_token_key(
    settings: TokenSettings, authority: ServiceAuthority, directory: Path, now: datetime
) -> x509.Certificate:
    """Generate the seal key inside the token (if absent) and certify it with the issuing CA."""
    try:
        session = (
            pkcs11.lib(settings.module)
            .get_token(token_label=settings.token_label)
            .open(rw=True, user_pin=settings.pin)
        )
    except (pkcs11.PKCS11Error, OSError, RuntimeError) as exc:
        raise SealUnavailable(
            f"cannot open PKCS#11 token {settings.token_label!r}: {type(exc).__name__}"
        ) from None
    try:
        try:
            public = session.get_key(
                object_class=pkcs11.ObjectClass.PUBLIC_KEY, label=settings.key_label
            )
        except pkcs11.NoSuchKey:
            parameters = session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            public, _ = parameters.generate_keypair(
                store=True,
                label=settings.key_label,
                private_template={
                    pkcs11.Attribute.SENSITIVE: True,
                    pkcs11.Attribute.EXTRACTABLE: False,
                },
            )
        public_key = serialization.load_der_public_key(encode_ec_public_key(public))  # type: ignore[arg-type]
    finally:
        session.close()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    certificate = issue(
        subject=authority.seal_certificate.subject,
        public_key=public_key,
        issuer=authority.issuing.certificate,
        issuer_key=authority.issuing.key,
        profile=signer_profile(SEAL_CERTIFICATE_POLICY),
        not_before=now,
        lifetime=SEAL_LIFETIME,
        publication=authority.endpoints.leaf_publication,
    )
    replace_seal_certificate(directory, certificate)
    return certificate


@contextmanager
def seal_signer(
    authority: ServiceAuthority, token: TokenSettings | None
) -> Iterator[signers.Signer]:
    """A pyHanko signer for the seal, open only for the duration of the block."""
    chain = [authority.issuing.certificate]
    if token is None:
        if authority.seal_key is None:
            raise SealUnavailable("no seal key file and no PKCS#11 token configured")
        yield simple_signer(Credential(authority.seal_certificate, authority.seal_key), chain)
        return
    session = _open(token)
    try:
        yield PKCS11Signer(
            session,
            key_label=token.key_label,
            signing_cert=asn1_certificate(authority.seal_certificate),
            ca_chain=[asn1_certificate(c) for c in chain],
            # Hash here, sign raw: tokens such as SoftHSM lack ECDSA-with-SHA256.
            use_raw_mechanism=True,
        )
    finally:
        session.close()
