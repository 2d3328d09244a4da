"""The service CA hierarchy: root -> issuing CA, with TSA, OCSP responder and seal certificates.

Created on first run for the embedded default; a bank replaces it with its own by
placing its certificates and keys under the same names in the PKI directory (see
README). Private keys are PKCS#8, encrypted with the configured passphrase.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)

from signing.errors import PkiUnavailable
from signing.pki.certificates import (
    ISSUING_CA,
    OCSP_RESPONDER,
    ROOT,
    TSA,
    Profile,
    Publication,
    issue,
    name,
    new_key,
    signer_profile,
)
from signing.pki.policies import SEAL_CERTIFICATE_POLICY

ROOT_LIFETIME = timedelta(days=365 * 30)
ISSUING_LIFETIME = timedelta(days=365 * 20)
# The newest document timestamp is checked against today's clock, so the TSA's
# certificate must outlive the archive period (renewed by re-timestamping).
TSA_LIFETIME = timedelta(days=365 * 12)
OCSP_LIFETIME = timedelta(days=365 * 12)
SEAL_LIFETIME = timedelta(days=365 * 3)

FILES = ("root", "issuing", "tsa", "ocsp", "seal")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Public URLs of the service's PKI resources, written into certificates."""

    base_url: str

    @property
    def ocsp(self) -> str:
        return f"{self.base_url}/pki/ocsp"

    @property
    def tsa(self) -> str:
        return f"{self.base_url}/pki/tsa"

    @property
    def root_crl(self) -> str:
        return f"{self.base_url}/pki/root.crl"

    @property
    def issuing_crl(self) -> str:
        return f"{self.base_url}/pki/issuing.crl"

    @property
    def leaf_publication(self) -> Publication:
        return Publication(ocsp_url=self.ocsp, crl_url=self.issuing_crl)

    @property
    def ca_publication(self) -> Publication:
        return Publication(ocsp_url=None, crl_url=self.root_crl)


@dataclass(frozen=True, slots=True)
class Credential:
    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes


@dataclass(frozen=True, slots=True)
class ServiceAuthority:
    root: Credential
    issuing: Credential
    tsa: Credential
    ocsp: Credential
    seal_certificate: x509.Certificate
    # None when the seal key lives in a PKCS#11 token.
    seal_key: CertificateIssuerPrivateKeyTypes | None
    endpoints: Endpoints

    @property
    def chain(self) -> list[x509.Certificate]:
        """The CA certificates a validator needs besides the root."""
        return [self.issuing.certificate]


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _save(directory: Path, label: str, credential: Credential, passphrase: bytes) -> None:
    _write(
        directory / f"{label}.key.pem",
        credential.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        ),
    )
    _write(
        directory / f"{label}.pem", credential.certificate.public_bytes(serialization.Encoding.PEM)
    )


def create(
    directory: Path, passphrase: bytes, bank_name: str, endpoints: Endpoints, now: datetime
) -> ServiceAuthority:
    """Generate a fresh hierarchy and write it to `directory` (which must hold none)."""
    if (directory / "root.pem").exists():
        raise PkiUnavailable(f"{directory} already holds a CA; refusing to overwrite it")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    root_key = new_key()
    root_cert = issue(
        subject=name(f"{bank_name} signroom Root CA", bank_name),
        public_key=root_key.public_key(),
        issuer=None,
        issuer_key=root_key,
        profile=ROOT,
        not_before=now,
        lifetime=ROOT_LIFETIME,
    )
    root = Credential(root_cert, root_key)

    def below(
        ca: Credential,
        common_name: str,
        profile_: Profile,
        lifetime: timedelta,
        publication: Publication,
    ) -> Credential:
        key = new_key()
        cert = issue(
            subject=name(common_name, bank_name),
            public_key=key.public_key(),
            issuer=ca.certificate,
            issuer_key=ca.key,
            profile=profile_,
            not_before=now,
            lifetime=lifetime,
            publication=publication,
        )
        return Credential(cert, key)

    issuing = below(
        root,
        f"{bank_name} signroom Issuing CA",
        ISSUING_CA,
        ISSUING_LIFETIME,
        endpoints.ca_publication,
    )
    tsa = below(
        issuing,
        f"{bank_name} signroom Time-Stamping Authority",
        TSA,
        TSA_LIFETIME,
        endpoints.leaf_publication,
    )
    ocsp = below(
        issuing,
        f"{bank_name} signroom OCSP Responder",
        OCSP_RESPONDER,
        OCSP_LIFETIME,
        endpoints.leaf_publication,
    )
    seal = below(
        issuing,
        f"{bank_name} 电子印章",
        signer_profile(SEAL_CERTIFICATE_POLICY),
        SEAL_LIFETIME,
        endpoints.leaf_publication,
    )
    for label, credential in (
        ("root", root),
        ("issuing", issuing),
        ("tsa", tsa),
        ("ocsp", ocsp),
        ("seal", seal),
    ):
        _save(directory, label, credential, passphrase)
    return ServiceAuthority(root, issuing, tsa, ocsp, seal.certificate, seal.key, endpoints)


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiUnavailable(f"cannot read certificate {path.name}: {exc}") from None


def _load_key(path: Path, passphrase: bytes) -> CertificateIssuerPrivateKeyTypes:
    try:
        key: PrivateKeyTypes = serialization.load_pem_private_key(path.read_bytes(), passphrase)
    except (OSError, ValueError, TypeError) as exc:
        # ValueError is also what a wrong passphrase raises; never echo the passphrase.
        raise PkiUnavailable(f"cannot read key {path.name}: {exc}") from None
    return key  # type: ignore[return-value]


def load(
    directory: Path, passphrase: bytes, endpoints: Endpoints, *, seal_key_in_token: bool = False
) -> ServiceAuthority:
    def credential(label: str) -> Credential:
        return Credential(
            _load_certificate(directory / f"{label}.pem"),
            _load_key(directory / f"{label}.key.pem", passphrase),
        )

    seal_certificate = _load_certificate(directory / "seal.pem")
    seal_key = None if seal_key_in_token else _load_key(directory / "seal.key.pem", passphrase)
    return ServiceAuthority(
        root=credential("root"),
        issuing=credential("issuing"),
        tsa=credential("tsa"),
        ocsp=credential("ocsp"),
        seal_certificate=seal_certificate,
        seal_key=seal_key,
        endpoints=endpoints,
    )


def load_or_create(
    directory: Path,
    passphrase: bytes,
    bank_name: str,
    endpoints: Endpoints,
    now: datetime,
    *,
    seal_key_in_token: bool = False,
) -> ServiceAuthority:
    if (directory / "root.pem").exists():
        return load(directory, passphrase, endpoints, seal_key_in_token=seal_key_in_token)
    return create(directory, passphrase, bank_name, endpoints, now)


def replace_seal_certificate(directory: Path, certificate: x509.Certificate) -> None:
    """Store the certificate issued for a seal key held in a PKCS#11 token."""
    _write(directory / "seal.pem", certificate.public_bytes(serialization.Encoding.PEM))
