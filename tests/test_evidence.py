"""Evidence packages: a signed case exported by compliance verifies offline with only the
bank's root; altering, removing or adding any file is caught and named."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
import warnings
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_cert_from_pemder

from audit.chain import canonical_json
from compliance.evidence_check import verify_package
from loans.roles import Role
from signing.pki.authority import Endpoints, load_or_create
from signing.pki.keys import asn1_certificate
from tests.evidence_support import rezip
from tests.signing_support import (
    applicant_in_interview,
    free_port,
    recorded_segments,
    sign_in_interview,
)
from tests.web_support import Service, start_service, stop_service
from web.keys import BLOBS, SIGNING


@pytest.fixture
async def signed_case(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[Service, bytes]]:
    service = await start_service(tmp_path, sqlite_url, port=free_port())
    await service.add_user("m1", Role.MANAGER)
    await service.add_user("c1", Role.COMPLIANCE)
    try:
        applicant, app_id = await applicant_in_interview(service)
        await recorded_segments(service, app_id)
        await sign_in_interview(service, applicant, app_id)
        compliance = await service.staff("c1")
        response = await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")
        assert response.status == 200
        package = await response.read()
        assert await service.audit_count("evidence.exported") == 1
        yield service, package
    finally:
        await stop_service(service)


def trust(service: Service) -> list[asn1_x509.Certificate]:
    root = load_cert_from_pemder(str(service.settings.pki_dir / "root.pem"))  # type: ignore[no-untyped-call]
    return [root]


async def test_a_signed_case_verifies_and_every_single_file_change_is_named(
    signed_case: tuple[Service, bytes], tmp_path: Path
) -> None:
    service, package = signed_case
    roots = trust(service)
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    for expected in (
        "manifest.json",
        "manifest.cms",
        "contract/signed.pdf",
        "contract/interview-manifest.json",
        "kyc/documents/id_front.jpg",
        "kyc/results.json",
        "recordings/applicant-1.webm",
        "recordings/manager-1.webm",
        "audit/entries.json",
        "pki/root.pem",
    ):
        assert expected in names, expected
    report = await verify_package(package, roots)
    assert report.ok, report.problems
    assert any("binds the interview manifest" in line for line in report.checked)
    assert any("audit entries included" in line for line in report.checked)
    assert "2 recordings match the signed interview manifest" in report.checked

    for name in names:
        data = zipfile.ZipFile(io.BytesIO(package)).read(name)
        altered = await verify_package(rezip(package, {name: data + b" "}), roots)
        assert not altered.ok and any(name in p for p in altered.problems), (name, altered.problems)
        if name not in ("manifest.json", "manifest.cms"):
            removed = await verify_package(rezip(package, {name: None}), roots)
            assert any(f"{name}: listed in the manifest but missing" == p for p in removed.problems)
    added = await verify_package(rezip(package, {"kyc/extra.jpg": b"x"}), roots)
    assert "kyc/extra.jpg: in the archive but not in the manifest" in added.problems

    now = datetime.now(UTC)
    other = load_or_create(tmp_path / "other", b"pw", "别的银行", Endpoints("http://x"), now)
    foreign = await verify_package(package, [asn1_certificate(other.root.certificate)])
    assert any("manifest.cms" in p for p in foreign.problems)

    # The command line, on a machine that has only the package and the root.
    path = tmp_path / "evidence.zip"
    path.write_bytes(package)
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "cli",
            "verify-evidence",
            str(path),
            "--trust",
            str(service.settings.pki_dir / "root.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "SIGNROOM_DATA_DIR": str(tmp_path / "empty")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "evidence package holds" in result.stdout
    broken = tmp_path / "broken.zip"
    broken.write_bytes(rezip(package, {"contract/signed.pdf": None}))
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "cli",
            "verify-evidence",
            str(broken),
            "--trust",
            str(service.settings.pki_dir / "root.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1 and "contract/signed.pdf" in result.stdout


async def test_only_recordings_the_audit_log_names_are_exported_and_checked(
    signed_case: tuple[Service, bytes],
) -> None:
    """A recording swapped on disk stops the export (audited); one nobody recorded is
    never packed; and a package re-sealed around a swapped file by someone holding
    the seal still fails: each evidence file must be the one a sealed entry names."""
    service, package = signed_case
    roots = trust(service)
    app_id = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("manifest.json"))[
        "application_id"
    ]
    assert service.server.app is not None
    await service.server.app[BLOBS].put(b"a recording nobody made")
    compliance = await service.staff("c1")
    again = await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")
    assert again.status == 200
    names = zipfile.ZipFile(io.BytesIO(await again.read())).namelist()
    assert "recordings/manager-9.webm" not in names

    applicant_file = await service.recording_blob(app_id, "applicant-1.webm")
    original = applicant_file.read_bytes()
    applicant_file.write_bytes(original[:-100] + b"\x00" * 100)
    refused = await compliance.session.get(f"/api/applications/{app_id}/evidence.zip")
    body = await refused.json()
    assert refused.status == 409 and body["code"] == "evidence_incomplete", body
    assert "recordings/applicant-1.webm" in body["message"]
    assert await service.audit_count("evidence.refused") == 1
    assert await service.audit_count("evidence.exported") == 2
    applicant_file.write_bytes(original)

    # An insider with the seal re-seals the manifest around a swapped recording.
    swapped = original[:-100] + b"\x01" * 100
    source = zipfile.ZipFile(io.BytesIO(package))
    manifest = json.loads(source.read("manifest.json"))
    manifest["files"]["recordings/applicant-1.webm"] = hashlib.sha256(swapped).hexdigest()
    text = canonical_json(manifest).encode()
    assert service.server.app is not None
    seal = await service.server.app[SIGNING].seal_statement(text)
    forged = rezip(
        package,
        {"recordings/applicant-1.webm": swapped, "manifest.json": text, "manifest.cms": seal},
    )
    report = await verify_package(forged, roots)
    assert (
        "recordings/applicant-1.webm: no sealed audit entry in the package names this file"
        " with its SHA-256" in report.problems
    ), report.problems
    assert any(
        "not the recording the signed interview manifest names" in p for p in report.problems
    )


def _archive(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name on purpose
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return out.getvalue()


def _manifest(files: dict[str, bytes]) -> list[tuple[zipfile.ZipInfo | str, bytes]]:
    listed = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    manifest = json.dumps({"format": "signroom-evidence/1", "files": listed}).encode()
    return [("manifest.json", manifest), ("manifest.cms", b"not a seal"), *files.items()]


def _directory_with_data() -> list[tuple[zipfile.ZipInfo | str, bytes]]:
    info = zipfile.ZipInfo("contract/")
    info.external_attr = 0o40755 << 16 | 0x10
    return [*_manifest({}), (info, b"hidden payload")]


HOSTILE_PACKAGES: dict[str, tuple[bytes, str]] = {
    "forged duplicate name first": (
        _archive(
            [("contract/signed.pdf", b"forged"), *_manifest({"contract/signed.pdf": b"real"})]
        ),
        "names a file more than once",
    ),
    "directory entry with data": (_archive(_directory_with_data()), "directory entry"),
    "ZIP bomb": (
        _archive([*_manifest({}), ("audit/entries.json", b"\x00" * 40_000_000)]),
        "expands",
    ),
    "entries not a list": (
        _archive(_manifest({"audit/entries.json": b'{"a": 1}'})),
        "audit/entries.json is not a list of entries",
    ),
    "entries of numbers": (
        _archive(_manifest({"audit/entries.json": b"[1, 2, 3]"})),
        "audit/entries.json is not a list of entries",
    ),
    "entry fields not an object": (
        _archive(
            _manifest({"audit/entries.json": b'[{"fields": [1], "checkpoint": 1, "proof": []}]'})
        ),
        "audit/entries.json: an entry is malformed",
    ),
    "checkpoint a list": (
        _archive(_manifest({"audit/checkpoints/1.json": b"[1, 2]"})),
        "audit/checkpoints/1.json: unreadable checkpoint",
    ),
    "checkpoint statement not an object": (
        _archive(
            _manifest(
                {
                    "audit/checkpoints/1.json": json.dumps(
                        {"statement_b64": "WzFd", "signature_b64": ""}
                    ).encode()
                }
            )
        ),
        "audit/checkpoints/1.json: unreadable checkpoint",
    ),
    "interview manifest a list": (
        _archive(_manifest({"contract/interview-manifest.json": b"[]"})),
        "unreadable recordings list",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PACKAGES))
async def test_hostile_archives_are_refused_with_a_reason_not_a_crash(
    name: str, tmp_path: Path
) -> None:
    package, expected = HOSTILE_PACKAGES[name]
    now = datetime.now(UTC)
    authority = load_or_create(tmp_path / "pki", b"pw", "某银行", Endpoints("http://x"), now)
    report = await verify_package(package, [asn1_certificate(authority.root.certificate)])
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems
