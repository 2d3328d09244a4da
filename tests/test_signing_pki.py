"""The service CA: keys at rest, event certificates, and its HTTP face — RFC 3161
time-stamping, RFC 6960 OCSP and CRLs — against well-formed and malformed requests."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from asn1crypto import algos, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from pyhanko.sign.timestamps import HTTPTimeStamper

from loans.roles import Role
from signing.errors import PkiUnavailable
from signing.pki.authority import Endpoints, load, load_or_create
from signing.pki.certificates import issue, name, new_key, signer_profile
from signing.pki.event import SignerIdentity, id_number_hash, issue_event_credential
from signing.pki.policies import EVENT_CERTIFICATE_POLICY, TEST_CERTIFICATE_POLICY
from signing.pki.revocation import ocsp_request
from tests.signing_support import free_port
from tests.web_support import Service, start_service, stop_service
from web.keys import SIGNING

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ENDPOINTS = Endpoints("http://127.0.0.1:9")


def test_keys_are_encrypted_at_rest_and_need_the_passphrase(tmp_path: Path) -> None:
    created = load_or_create(tmp_path, b"right", "示例银行", ENDPOINTS, NOW)
    for label in ("root", "issuing", "tsa", "ocsp", "seal"):
        key_file = tmp_path / f"{label}.key.pem"
        assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    again = load_or_create(tmp_path, b"right", "示例银行", ENDPOINTS, NOW)
    assert again.root.certificate == created.root.certificate
    with pytest.raises(PkiUnavailable) as refused:
        load(tmp_path, b"wrong", ENDPOINTS)
    assert "wrong" not in str(refused.value) and "right" not in str(refused.value)
    os.remove(tmp_path / "tsa.pem")
    with pytest.raises(PkiUnavailable, match=r"tsa\.pem"):
        load(tmp_path, b"right", ENDPOINTS)


def test_the_hierarchy_has_the_extensions_validators_need(tmp_path: Path) -> None:
    authority = load_or_create(tmp_path, b"pw", "示例银行", ENDPOINTS, NOW)
    root, issuing = authority.root.certificate, authority.issuing.certificate
    assert issuing.issuer == root.subject
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    tsa_usage = authority.tsa.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert tsa_usage.critical and list(tsa_usage.value) == [
        x509.oid.ExtendedKeyUsageOID.TIME_STAMPING
    ]
    authority.ocsp.certificate.extensions.get_extension_for_class(x509.OCSPNoCheck)
    aia = authority.seal_certificate.extensions.get_extension_for_class(
        x509.AuthorityInformationAccess
    )
    assert aia.value[0].access_location.value == "http://127.0.0.1:9/pki/ocsp"


def test_event_certificates_name_the_signer_and_hash_the_id_number(tmp_path: Path) -> None:
    authority = load_or_create(tmp_path, b"pw", "示例银行", ENDPOINTS, NOW)
    identity = SignerIdentity("林小明", "11010519491231002X", "福州闽江贸易有限公司")
    credential = issue_event_credential(authority.issuing, ENDPOINTS, identity, NOW)
    certificate = credential.certificate
    subject = certificate.subject.rfc4514_string()
    assert "CN=林小明" in subject and "11010519491231002X" not in subject
    assert f"IDSHA256:{id_number_hash(identity.id_number, credential.id_hash_salt)}" in subject
    lifetime = certificate.not_valid_after_utc - NOW
    assert timedelta(minutes=5) <= lifetime <= timedelta(minutes=10)
    policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [EVENT_CERTIFICATE_POLICY]
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment and usage.digital_signature and not usage.key_cert_sign
    test = issue_event_credential(authority.issuing, ENDPOINTS, identity, NOW, test=True)
    assert "TEST CERTIFICATE" in test.certificate.subject.rfc4514_string()
    policies = test.certificate.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [TEST_CERTIFICATE_POLICY]


@pytest.fixture
async def pki_service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    service = await start_service(tmp_path, sqlite_url, port=free_port())
    await service.add_user("a1", Role.ADMIN)
    try:
        yield service
    finally:
        await stop_service(service)


async def post_der(service: Service, path: str, body: bytes, content_type: str) -> bytes:
    browser = service.browser()
    response = await browser.session.post(path, data=body, headers={"Content-Type": content_type})
    assert response.status == 200, await response.text()
    return await response.read()


def timestamp_request(digest: bytes, algorithm: str = "sha256", **extra: object) -> bytes:
    request: bytes = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                "hashed_message": digest,
            },
            "cert_req": True,
            **extra,
        }
    ).dump()
    return request


async def test_the_tsa_answers_rfc_3161_clients(pki_service: Service) -> None:
    url = str(pki_service.base.with_path("/pki/tsa"))
    digest = hashlib.sha256(b"the contract").digest()
    token = await HTTPTimeStamper(url).async_timestamp(digest, "sha256")
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert abs(info["gen_time"].native - datetime.now(UTC)) < timedelta(seconds=5)
    reply = tsp.TimeStampResp.load(
        await post_der(
            pki_service,
            "/pki/tsa",
            timestamp_request(digest, nonce=12345),
            "application/timestamp-query",
        )
    )
    assert reply["status"]["status"].native == "granted"
    assert (
        reply["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed["nonce"].native
        == 12345
    )


class StatusOnly(core.Sequence):  # type: ignore[misc]
    """A TimeStampResp read for its status alone (asn1crypto insists on a token)."""

    _fields: ClassVar = [("status", tsp.PKIStatusInfo), ("token", core.Any, {"optional": True})]


# Malformed or unacceptable time-stamp requests, and the failure each must get.
BAD_TIMESTAMP_REQUESTS = [
    (b"", None),  # empty body: HTTP 400
    (b"\x30\x03\x02\x01\x01", "bad_data_format"),
    (b"not DER at all", "bad_data_format"),
    (timestamp_request(hashlib.md5(b"x").digest(), "md5"), "bad_alg"),  # noqa: S324
    (timestamp_request(b"\x00" * 20), "bad_data_format"),
    (timestamp_request(hashlib.sha256(b"x").digest(), req_policy="1.2.3.4"), "unaccepted_policy"),
]


@pytest.mark.parametrize(("body", "failure"), BAD_TIMESTAMP_REQUESTS)
async def test_bad_timestamp_requests_are_rejected(
    pki_service: Service, body: bytes, failure: str | None
) -> None:
    browser = pki_service.browser()
    response = await browser.session.post(
        "/pki/tsa", data=body, headers={"Content-Type": "application/timestamp-query"}
    )
    if failure is None:
        assert response.status == 400
        return
    assert response.status == 200
    reply = StatusOnly.load(await response.read())
    assert reply["status"]["status"].native == "rejection"
    assert failure in reply["status"]["fail_info"].native


async def ocsp_status(service: Service, certificate: x509.Certificate) -> ocsp.OCSPResponse:
    assert service.server.app is not None
    issuing = service.server.app[SIGNING].authority.issuing.certificate
    der = await post_der(
        service, "/pki/ocsp", ocsp_request(certificate, issuing), "application/ocsp-request"
    )
    return ocsp.load_der_ocsp_response(der)


async def test_ocsp_and_crls_follow_revocation(pki_service: Service) -> None:
    service = pki_service
    assert service.server.app is not None
    authority = service.server.app[SIGNING].authority
    seal = authority.seal_certificate
    good = await ocsp_status(service, seal)
    assert good.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert good.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert good.certificates[0] == authority.ocsp.certificate
    # A certificate this CA never issued (same issuer key, unknown serial).
    stranger = issue(
        subject=name("stranger", "x"),
        public_key=new_key().public_key(),
        issuer=authority.issuing.certificate,
        issuer_key=authority.issuing.key,
        profile=signer_profile(EVENT_CERTIFICATE_POLICY),
        not_before=NOW,
        lifetime=timedelta(minutes=5),
    )
    assert (await ocsp_status(service, stranger)).certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    # The GET form (RFC 6960 A.1).
    request = ocsp_request(seal, authority.issuing.certificate)
    encoded = base64.b64encode(request).decode()
    browser = service.browser()
    got = await browser.session.get(f"/pki/ocsp/{encoded}")
    assert ocsp.load_der_ocsp_response(await got.read()).certificate_status is (
        ocsp.OCSPCertStatus.GOOD
    )
    # Garbage and foreign issuers get OCSP error statuses, not HTTP errors.
    garbage = ocsp.load_der_ocsp_response(
        await post_der(service, "/pki/ocsp", b"\x30\x00", "application/ocsp-request")
    )
    assert garbage.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    foreign = ocsp.load_der_ocsp_response(
        await post_der(
            service,
            "/pki/ocsp",
            ocsp_request(seal, authority.root.certificate),
            "application/ocsp-request",
        )
    )
    assert foreign.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED

    admin = await service.staff("a1")
    revoked = await admin.request(
        "POST",
        f"/api/admin/certificates/{seal.serial_number}/revoke",
        json={"reason": "key_compromise"},
    )
    assert revoked.status == 200, revoked.text
    twice = await admin.request(
        "POST",
        f"/api/admin/certificates/{seal.serial_number}/revoke",
        json={"reason": "key_compromise"},
    )
    assert twice.status == 409
    bad_reason = await admin.request(
        "POST", f"/api/admin/certificates/{seal.serial_number}/revoke", json={"reason": "whim"}
    )
    assert bad_reason.status == 409
    after = await ocsp_status(service, seal)
    assert after.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert after.revocation_reason is x509.ReasonFlags.key_compromise
    crl_response = await browser.session.get("/pki/issuing.crl")
    crl = x509.load_der_x509_crl(await crl_response.read())
    assert crl.is_signature_valid(authority.issuing.certificate.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(seal.serial_number) is not None
    root_crl = x509.load_der_x509_crl(await (await browser.session.get("/pki/root.crl")).read())
    assert root_crl.is_signature_valid(authority.root.certificate.public_key())  # type: ignore[arg-type]
    assert len(root_crl) == 0
    assert await service.audit_count("pki.certificate_revoked") == 1
    pem = await (await browser.session.get("/pki/root.pem")).read()
    assert x509.load_pem_x509_certificate(pem) == authority.root.certificate
    assert crl.next_update_utc is not None and crl.next_update_utc > datetime.now(UTC)
    assert hashes.SHA256().name == "sha256"


async def test_admins_version_the_contract_template(pki_service: Service) -> None:
    admin = await pki_service.staff("a1")
    listed = await admin.request("GET", "/api/admin/contract-templates")
    assert [t["version"] for t in listed.body] == [1]
    original = (await admin.request("GET", "/api/admin/contract-templates/1")).body["body"]
    edited = original.replace("流动资金借款合同", "流动资金借款合同（2027版）")
    saved = await admin.request(
        "POST", "/api/admin/contract-templates", json={"body": edited, "note": "2027 wording"}
    )
    assert saved.status == 201 and saved.body["version"] == 2
    broken = await admin.request(
        "POST",
        "/api/admin/contract-templates",
        json={"body": original + "{{ ''.__class__ }}", "note": "escape attempt"},
    )
    assert broken.status == 422 and broken.body["code"] == "template_invalid"
    # Each of these passed the save check and then made every push a 500.
    for payload in (
        "<b>unclosed",
        '<img src="/etc/passwd"/>',
        '<font color="nocolour">x</font>',
        "{% include 'other' %}",
        "{{ '{0}'.format_map(1) }}",
        "{{ 'x' * 5000000 }}",
    ):
        refused = await admin.request(
            "POST",
            "/api/admin/contract-templates",
            json={"body": original + payload, "note": "hostile"},
        )
        assert refused.status == 422 and refused.body["code"] == "template_invalid", payload
    listed = await admin.request("GET", "/api/admin/contract-templates")
    assert [t["version"] for t in listed.body] == [1, 2]
    assert await pki_service.audit_count("contract.template_saved") == 2
    page = await admin.request("GET", "/admin/templates")
    assert page.status == 200 and "2027 wording" in page.text
