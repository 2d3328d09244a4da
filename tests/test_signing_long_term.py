"""A contract signed through the real flow stays valid after its event certificate expires.

Nothing is frozen: the service signs with its own clock and a short-lived event
certificate (a setting, shortened here only), and a fresh `signroom` process, which
did not sign, validates the file and the evidence package once that certificate
has expired: now, a day on and ten years on, offline.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loans.roles import Role
from signing.pades import signer_certificates
from tests.signing_support import (
    applicant_in_interview,
    free_port,
    nss_trusting,
    pdfsig,
    recorded_segments,
    sign_in_interview,
)
from tests.web_support import Service, start_service, stop_service

# Longer than signing.validation.SIGNER_FRESHNESS (and the LTV step): the status
# data issued while signing must still count as fresh before the certificate ends.
EVENT_SECONDS = 45


@pytest.fixture
async def short_lived(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Service]:
    service = await start_service(
        tmp_path, sqlite_url, port=free_port(), event_certificate_seconds=EVENT_SECONDS
    )
    await service.add_user("m1", Role.MANAGER)
    await service.add_user("c1", Role.COMPLIANCE)
    try:
        yield service
    finally:
        await stop_service(service)


async def signroom(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, on a machine that has only the file and the root."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "SIGNROOM_DATA_DIR": str(data_dir)},
    )


async def test_the_signed_contract_and_its_package_verify_after_the_certificate_expired(
    short_lived: Service, tmp_path: Path
) -> None:
    service = short_lived
    applicant, app_id = await applicant_in_interview(service)
    await recorded_segments(service, app_id)
    signing_started = datetime.now(UTC)
    await sign_in_interview(service, applicant, app_id)
    download = await applicant.session.get("/api/applicant/contract/document")
    pdf = await download.read()
    assert download.status == 200
    compliance = await service.staff("c1")
    exported = await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")
    assert exported.status == 200
    package = await exported.read()
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(pdf)
    evidence = tmp_path / "evidence.zip"
    evidence.write_bytes(package)
    assert zipfile.ZipFile(io.BytesIO(package)).read("contract/signed.pdf") == pdf

    applicant_certificate = signer_certificates(pdf)[0]
    expires = applicant_certificate.not_valid_after_utc
    # Issued during the sign request (not_before is backdated for clock skew).
    assert expires - signing_started < timedelta(seconds=EVENT_SECONDS + 30)
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1.5)
    assert datetime.now(UTC) > expires

    root = str(service.settings.pki_dir / "root.pem")
    empty = tmp_path / "elsewhere"
    later = datetime.now(UTC)
    for at in (None, later + timedelta(days=1), later + timedelta(days=3653)):
        extra = ["--at", at.isoformat()] if at is not None else []
        result = await signroom(
            "verify-pdf", str(contract), "--trust", root, *extra, data_dir=empty
        )
        assert result.returncode == 0, (at, result.stdout + result.stderr)
        assert "verdict: valid" in result.stdout, result.stdout
        assert result.stdout.count("[ok ]") == 3, result.stdout

    checked = await signroom("verify-evidence", str(evidence), "--trust", root, data_dir=empty)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "evidence package holds" in checked.stdout

    # What the applicant's PDF reader says: the signature is intact, the
    # certificate expired (README, "Signed contracts after the certificate expires").
    nss = nss_trusting(tmp_path / "nss", Path(root))
    independent = await asyncio.to_thread(pdfsig, contract, nss)
    assert independent.count("Signature Validation: Signature is Valid.") == 2, independent
    applicant_part = independent.split("Signature #2")[0]
    assert "Certificate Validation: Certificate has Expired" in applicant_part, independent
