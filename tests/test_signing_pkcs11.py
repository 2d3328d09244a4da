"""The bank's seal key in a real PKCS#11 token (Debian's SoftHSM v2): generated inside
the token, never extractable, used for the seal; a token that cannot be opened is a
clear, retryable failure."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest

from signing.errors import SealUnavailable
from signing.pades import SignatureBox, StatusBook
from signing.pki.event import EventCredential
from signing.pki.revocation import CertificateStatus, Status
from signing.pki.seal import TokenSettings
from signing.selftest import run_selftest
from signing.service import SigningService, SigningSettings
from tests.signing_support import require_tool

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenSettings]:
    if not Path(MODULE).exists():
        pytest.fail("SoftHSM v2 is missing: `make test` installs softhsm2")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n"
    )
    # SoftHSM reads its configuration when the library is first initialised in this
    # process; the module is loaded only by these tests.
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(config)
    subprocess.run(
        [
            require_tool("softhsm2-util"),
            "--init-token",
            "--free",
            "--label",
            "bank-seal",
            "--pin",
            PIN,
            "--so-pin",
            "13579111",
        ],
        check=True,
        capture_output=True,
        env={**os.environ},
    )
    yield TokenSettings(module=MODULE, token_label="bank-seal", pin=PIN)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def open_service(directory: Path, token: TokenSettings) -> SigningService:
    return SigningService.open(
        SigningSettings(directory, b"pw", "示例银行股份有限公司", "http://127.0.0.1:9", token=token)
    )


def book_for(service: SigningService, issued: set[int]) -> StatusBook:
    def status(serial: int) -> CertificateStatus:
        return CertificateStatus(Status.GOOD if serial in issued else Status.UNKNOWN)

    return StatusBook(status, lambda: [], lambda: [])


def test_the_seal_key_lives_in_the_token_and_seals_a_contract(
    token: TokenSettings, tmp_path: Path
) -> None:
    service = open_service(tmp_path, token)
    assert service.authority.seal_key is None
    assert not (tmp_path / "seal.key.pem").exists()
    issued = set(service.service_serials())

    async def book() -> StatusBook:
        return book_for(service, issued)

    async def register(credential: EventCredential) -> None:
        issued.add(credential.certificate.serial_number)

    result = asyncio.run(run_selftest(service, book, register))
    assert [s.step for s in result.steps] == [
        "render",
        "applicant_sign",
        "bank_sign",
        "long_term_validation",
        "validation",
    ]
    # A second start uses the same token key and certificate.
    again = open_service(tmp_path, token)
    assert again.authority.seal_certificate == service.authority.seal_certificate

    library = pkcs11.lib(MODULE)
    with library.get_token(token_label="bank-seal").open(user_pin=PIN) as session:
        key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=token.key_label)
        assert key[pkcs11.Attribute.SENSITIVE] and not key[pkcs11.Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.PKCS11Error):
            key[pkcs11.Attribute.VALUE]


def test_a_token_that_cannot_be_opened_fails_the_bank_step_only(
    token: TokenSettings, tmp_path: Path
) -> None:
    service = open_service(tmp_path, token)
    service.settings = dataclasses.replace(
        service.settings, token=dataclasses.replace(token, pin="000000")
    )
    with pytest.raises(SealUnavailable) as caught:
        asyncio.run(service.sign_bank(b"%PDF-1.7", service_box()))
    assert caught.value.step == "bank_sign"
    assert "000000" not in str(caught.value) and PIN not in str(caught.value)
    service.settings = dataclasses.replace(
        service.settings, token=dataclasses.replace(token, token_label="no-such-token")
    )
    with pytest.raises(SealUnavailable):
        asyncio.run(service.sign_bank(b"%PDF-1.7", service_box()))


def service_box() -> SignatureBox:
    return SignatureBox(0, (0, 0, 10, 10))
