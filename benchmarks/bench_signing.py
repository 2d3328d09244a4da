"""Signing cost: the whole B-LTA pipeline and its validation, against bare B-B signing.

Per contract: render, applicant signature (with its event certificate and a
signature timestamp), bank seal (timestamped), validation data and document
timestamp. The baseline is pyHanko signing the same rendered PDF with a key file,
B-B (no timestamp, no validation data), in the same process; `openssl speed` for
ECDSA P-256 is the floor of one raw signature. Medians over the runs.

    python -m benchmarks.bench_signing [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from loans.models import RepaymentMethod
from signing.contract.render import ContractTerms, builtin_template, render_contract
from signing.pades import StatusBook, signer_certificates
from signing.pki.authority import Credential
from signing.pki.event import SignerIdentity
from signing.pki.keys import asn1_certificate, simple_signer
from signing.pki.revocation import CertificateStatus, Status
from signing.service import SigningService, SigningSettings
from signing.validation import Verdict, validate_pdf
from signing.workers import quiet_pyhanko_logs
from tests.signing_support import drawn_mark

IDENTITY = SignerIdentity("林小明", "11010519491231002X", "福州闽江贸易有限公司")


def terms() -> ContractTerms:
    return ContractTerms(
        "HT-BENCH",
        "示例银行股份有限公司",
        IDENTITY.company,
        "91350100M000100Y43",
        IDENTITY.name,
        150_000_00,
        43_500,
        24,
        RepaymentMethod.EQUAL_INSTALMENT,
        datetime.now(UTC).date(),
    )


def openssl_sign_ms() -> float:
    output = subprocess.run(
        ["openssl", "speed", "-seconds", "1", "ecdsap256"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # "256 bits ecdsa (nistp256)   0.0000s   0.0001s  51272.7  16206.0": sign/s is
    # the third figure (the seconds columns round to zero).
    match = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([0-9.]+)", output)
    assert match, output
    return 1000 / float(match.group(1))


async def timed(work: Callable[[], Awaitable[bytes]]) -> tuple[bytes, float]:
    start = time.perf_counter()
    result = await work()
    return result, (time.perf_counter() - start) * 1000


async def main(runs: int) -> None:
    quiet_pyhanko_logs()
    with tempfile.TemporaryDirectory() as directory:
        service = SigningService.open(
            SigningSettings(Path(directory), b"bench", "示例银行股份有限公司", "http://127.0.0.1:9")
        )
        issued = set(service.service_serials())

        def status(serial: int) -> CertificateStatus:
            return CertificateStatus(Status.GOOD if serial in issued else Status.UNKNOWN)

        book = StatusBook(status, lambda: [], lambda: [])
        assert service.authority.seal_key is not None
        seal = Credential(service.authority.seal_certificate, service.authority.seal_key)
        root = asn1_certificate(service.authority.root.certificate)
        mark = drawn_mark()
        render_contract(builtin_template(), 1, terms())  # font loading is a one-off

        steps: dict[str, list[float]] = {
            "render": [],
            "applicant": [],
            "bank": [],
            "ltv": [],
            "pipeline": [],
            "bare": [],
            "validation": [],
        }
        for _ in range(runs):
            start = time.perf_counter()
            rendered = render_contract(builtin_template(), 1, terms())
            steps["render"].append((time.perf_counter() - start) * 1000)

            async def bare(pdf: bytes = rendered.pdf) -> bytes:
                meta = signers.PdfSignatureMetadata(
                    field_name="bank",
                    md_algorithm="sha256",
                    subfilter=fields.SigSeedSubFilter.PADES,
                )
                signer = simple_signer(seal, [service.authority.issuing.certificate])
                out = await signers.PdfSigner(meta, signer).async_sign_pdf(
                    IncrementalPdfFileWriter(io.BytesIO(pdf))
                )
                return out.getvalue()  # type: ignore[no-any-return]

            _, bare_ms = await timed(bare)
            steps["bare"].append(bare_ms)

            credential = service.issue_event_credential(IDENTITY)
            issued.add(credential.certificate.serial_number)
            pdf, applicant_ms = await timed(
                partial(
                    service.sign_applicant, rendered.pdf, credential, rendered.applicant_box, mark
                )
            )
            pdf, bank_ms = await timed(partial(service.sign_bank, pdf, rendered.bank_box))
            pdf, ltv_ms = await timed(
                partial(service.add_long_term_validation, pdf, book, signer_certificates(pdf))
            )
            steps["applicant"].append(applicant_ms)
            steps["bank"].append(bank_ms)
            steps["ltv"].append(ltv_ms)
            steps["pipeline"].append(steps["render"][-1] + applicant_ms + bank_ms + ltv_ms)

            start = time.perf_counter()
            report = await validate_pdf(pdf, [root])
            steps["validation"].append((time.perf_counter() - start) * 1000)
            assert report.verdict is Verdict.VALID, report

    median = {name: statistics.median(values) for name, values in steps.items()}
    signing_ms = median["applicant"] + median["bank"] + median["ltv"]
    floor = openssl_sign_ms()
    print(f"runs={runs}")
    for name in ("render", "applicant", "bank", "ltv", "pipeline", "bare", "validation"):
        print(f"  {name:<11} median {median[name]:8.1f} ms")
    print(f"  openssl ecdsap256 sign {floor:.3f} ms")
    print(
        f"bench-signing: pipeline_ratio={median['pipeline'] / median['bare']:.2f}"
        f" validation_ratio={median['validation'] / signing_ms:.2f}"
        f" pipeline_ms={median['pipeline']:.0f} bare_ms={median['bare']:.1f}"
        f" render_ms={median['render']:.0f} applicant_ms={median['applicant']:.0f}"
        f" bank_ms={median['bank']:.0f} ltv_ms={median['ltv']:.0f}"
        f" validation_ms={median['validation']:.0f} openssl_sign_ms={floor:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    asyncio.run(main(parser.parse_args().runs))
