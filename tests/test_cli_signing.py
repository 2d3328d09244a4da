"""`signroom signing selftest`, `verify-pdf` and `pki` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest


def signroom(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SIGNROOM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "SIGNROOM_DATA_DIR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def selftested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("cli")
    assert signroom(home, "migrate").returncode == 0
    result = signroom(home, "signing", "selftest", "--out", str(home / "selftest.pdf"))
    assert result.returncode == 0, result.stderr
    for step in ("render", "applicant_sign", "bank_sign", "long_term_validation", "validation"):
        assert step in result.stdout
    return home, home / "selftest.pdf"


def test_the_selftest_file_validates_only_as_a_test(selftested: tuple[Path, Path]) -> None:
    home, pdf = selftested
    result = signroom(home, "verify-pdf", str(pdf))
    assert result.returncode == 1, result.stdout  # never "valid": a test certificate signed it
    assert "verdict: test_only" in result.stdout
    assert "TEST CERTIFICATE" in result.stdout
    later = (datetime.now(UTC) + timedelta(days=3653)).isoformat()
    assert "verdict: test_only" in signroom(home, "verify-pdf", str(pdf), "--at", later).stdout
    # Personal data and pyHanko's path narration stay out of the log.
    assert "IDSHA256" not in result.stderr


def test_verify_pdf_names_what_is_wrong(selftested: tuple[Path, Path], tmp_path: Path) -> None:
    home, pdf = selftested
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7 not really")
    result = signroom(home, "verify-pdf", str(garbage))
    assert result.returncode == 2 and "error:" in result.stderr
    missing = signroom(home, "verify-pdf", str(tmp_path / "none.pdf"))
    assert missing.returncode == 2
    tampered = tmp_path / "tampered.pdf"
    data = pdf.read_bytes()
    at = data.index(b"ReportLab")
    tampered.write_bytes(data[:at] + b"ReportLaB" + data[at + 9 :])
    result = signroom(home, "verify-pdf", str(tampered), "--json")
    assert result.returncode == 1
    assert '"verdict": "invalid"' in result.stdout
    naive = signroom(home, "verify-pdf", str(pdf), "--at", "2036-01-01T00:00:00")
    assert naive.returncode == 2 and "time zone" in naive.stderr
    no_root = signroom(home, "verify-pdf", str(pdf), "--trust", str(tmp_path / "none.pem"))
    assert no_root.returncode == 2 and "cannot read the trust root" in no_root.stderr
    assert "Traceback" not in no_root.stderr


def test_pki_export_and_revoke(selftested: tuple[Path, Path], tmp_path: Path) -> None:
    home, pdf = selftested
    root = tmp_path / "root.pem"
    assert signroom(home, "pki", "export-root", str(root)).returncode == 0
    assert root.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    # With the exported root as the only trust anchor, as a relying party would.
    result = signroom(home, "verify-pdf", str(pdf), "--trust", str(root))
    assert "verdict: test_only" in result.stdout
    unknown = signroom(home, "pki", "revoke", "12345", "--reason", "key_compromise")
    assert unknown.returncode == 1 and "no certificate" in unknown.stderr
