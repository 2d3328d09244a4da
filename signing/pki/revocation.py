"""Certificate status: CRLs and OCSP responses for the service CA.

Pure functions over the revocation records the caller supplies, so the HTTP
routes, the signing pipeline (which embeds responses in the PDF) and the tests all
answer from the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from signing.pki.authority import Credential

CRL_VALIDITY = timedelta(days=7)
OCSP_VALIDITY = timedelta(days=1)


class Status(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # never issued by this CA


@dataclass(frozen=True, slots=True)
class Revocation:
    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.unspecified


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    status: Status
    revocation: Revocation | None = None


StatusLookup = Callable[[int], CertificateStatus]


def build_crl(
    issuer: Credential, revoked: Sequence[Revocation], now: datetime, number: int
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now)
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.certificate.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
            .add_extension(x509.CRLReason(entry.reason), critical=False)
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _issuer_hashes(
    issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    name_digest = hashes.Hash(algorithm)
    name_digest.update(issuer.subject.public_bytes())
    # RFC 6960 issuerKeyHash: the hash of the BIT STRING value of subjectPublicKey.
    parsed = asn1_x509.Certificate.load(issuer.public_bytes(serialization.Encoding.DER))
    key_digest = hashes.Hash(algorithm)
    key_digest.update(bytes(parsed.public_key["public_key"].contents[1:]))
    return name_digest.finalize(), key_digest.finalize()


def ocsp_response(
    request_der: bytes,
    issuer: x509.Certificate,
    responder: Credential,
    lookup: StatusLookup,
    now: datetime,
) -> bytes:
    """A DER OCSP response for one request; malformed or foreign requests get an error status."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        serial = request.serial_number
        name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
    except (ValueError, NotImplementedError):
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if (name_hash, key_hash) != _issuer_hashes(issuer, algorithm):
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    answer = lookup(serial)
    cert_status = {
        Status.GOOD: ocsp.OCSPCertStatus.GOOD,
        Status.REVOKED: ocsp.OCSPCertStatus.REVOKED,
        Status.UNKNOWN: ocsp.OCSPCertStatus.UNKNOWN,
    }[answer.status]
    revocation = answer.revocation
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=cert_status,
            this_update=now,
            next_update=now + OCSP_VALIDITY,
            revocation_time=revocation.revoked_at if revocation else None,
            revocation_reason=revocation.reason if revocation else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate)
        .certificates([responder.certificate])
    )
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
        builder = builder.add_extension(nonce.value, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder.sign(responder.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_request(certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(certificate, issuer, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
