"""Building certificates with the extensions a PAdES validator looks for.

Every certificate below the root names where its status is published (OCSP in
the authority information access, a CRL distribution point), so a validator on
a fresh machine can find revocation data — and the signing pipeline embeds that
data in the PDF so that it never has to.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Certificates are back-dated a little so that a verifier whose clock is slightly
# behind does not see them as "not yet valid".
CLOCK_SKEW = timedelta(minutes=5)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_serial() -> int:
    # RFC 5280: positive, at most 20 octets; 159 random bits keeps the top bit clear.
    return secrets.randbits(159) | 1


def name(common_name: str, organisation: str, **extra: str) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ]
    oids = {
        "unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "serial_number": NameOID.SERIAL_NUMBER,
        "title": NameOID.TITLE,
    }
    attributes += [x509.NameAttribute(oids[key], value) for key, value in extra.items()]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


@dataclass(frozen=True, slots=True)
class Publication:
    """Where the issuer publishes status: its OCSP responder and CRL."""

    ocsp_url: str | None
    crl_url: str | None


@dataclass(frozen=True, slots=True)
class Profile:
    ca: bool = False
    path_length: int | None = None
    key_usage: frozenset[str] = frozenset({"digital_signature"})
    extended_key_usage: tuple[x509.ObjectIdentifier, ...] = ()
    policies: tuple[x509.ObjectIdentifier, ...] = ()
    ocsp_no_check: bool = False


ROOT = Profile(ca=True, path_length=1, key_usage=frozenset({"key_cert_sign", "crl_sign"}))
ISSUING_CA = Profile(ca=True, path_length=0, key_usage=frozenset({"key_cert_sign", "crl_sign"}))
TSA = Profile(extended_key_usage=(ExtendedKeyUsageOID.TIME_STAMPING,))
OCSP_RESPONDER = Profile(extended_key_usage=(ExtendedKeyUsageOID.OCSP_SIGNING,), ocsp_no_check=True)


def signer_profile(policy: x509.ObjectIdentifier) -> Profile:
    return Profile(
        key_usage=frozenset({"digital_signature", "content_commitment"}), policies=(policy,)
    )


def _key_usage(names: frozenset[str]) -> x509.KeyUsage:
    flags = {
        field: field in names
        for field in (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        )
    }
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def issue(
    *,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer: x509.Certificate | None,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    profile: Profile,
    not_before: datetime,
    lifetime: timedelta,
    publication: Publication | None = None,
    serial: int | None = None,
) -> x509.Certificate:
    """A certificate for `public_key`; `issuer=None` makes a self-signed root."""
    issuer_name = subject if issuer is None else issuer.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial if serial is not None else new_serial())
        .not_valid_before(not_before - CLOCK_SKEW)
        .not_valid_after(not_before + lifetime)
        .add_extension(x509.BasicConstraints(profile.ca, profile.path_length), critical=True)
        .add_extension(_key_usage(profile.key_usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    authority_public_key = issuer_key.public_key() if issuer is None else issuer.public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_public_key),  # type: ignore[arg-type]
        critical=False,
    )
    if profile.extended_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(profile.extended_key_usage)), critical=True
        )
    if profile.policies:
        builder = builder.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(p, None) for p in profile.policies]),
            critical=False,
        )
    if profile.ocsp_no_check:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    if publication is not None and publication.crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(publication.crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    if publication is not None and publication.ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(publication.ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def policies_of(certificate: x509.Certificate) -> Sequence[x509.ObjectIdentifier]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return ()
    return [info.policy_identifier for info in extension.value]
