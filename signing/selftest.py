"""`signroom signing selftest`: the whole pipeline on a sample contract, with this setup's keys.

The applicant certificate is a marked test certificate (subject and policy say
so); validators report a file signed with it as "test_only", never "valid", and
the signing flow of real applications has no way to obtain one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from loans.models import RepaymentMethod
from signing.contract.appearance import seal_image
from signing.contract.render import (
    ContractTerms,
    RenderedContract,
    builtin_template,
    render_contract,
)
from signing.errors import SelftestFailed, SigningError
from signing.pades import StatusBook, signer_certificates
from signing.pki.event import EventCredential, SignerIdentity
from signing.pki.keys import asn1_certificate
from signing.service import SigningService
from signing.validation import Verdict, validate_pdf

T = TypeVar("T")

SAMPLE_IDENTITY = SignerIdentity(
    name="测试签署人", id_number="11010519491231002X", company="测试公司"
)


@dataclass(frozen=True, slots=True)
class StepTiming:
    step: str
    milliseconds: float


@dataclass(frozen=True, slots=True)
class SelftestResult:
    pdf: bytes
    steps: list[StepTiming]
    test_certificate_serial: int


def sample_terms(bank_name: str) -> ContractTerms:
    return ContractTerms(
        contract_number="HT-SELFTEST",
        bank_name=bank_name,
        company_name=SAMPLE_IDENTITY.company,
        credit_code="91350100M000100Y43",
        legal_rep_name=SAMPLE_IDENTITY.name,
        amount_fen=150_000_00,
        annual_rate_ppm=43_500,
        term_months=12,
        method=RepaymentMethod.EQUAL_INSTALMENT,
        start=date.today(),
    )


async def run_selftest(
    service: SigningService,
    book: Callable[[], Awaitable[StatusBook]],
    register: Callable[[EventCredential], Awaitable[None]],
) -> SelftestResult:
    """Render, sign as a test applicant, seal, add LTV data, validate; names the failing step."""
    steps: list[StepTiming] = []

    async def timed(step: str, work: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            result = await work()
        except SigningError as exc:
            raise SelftestFailed(f"{step}: {exc}", step=step) from None
        except OSError as exc:
            raise SelftestFailed(f"{step}: {exc}", step=step) from None
        steps.append(StepTiming(step, (time.perf_counter() - started) * 1000))
        return result

    async def render() -> RenderedContract:
        terms = sample_terms(service.settings.bank_name)
        return render_contract(builtin_template(), 0, terms)

    rendered = await timed("render", render)
    credential = service.issue_event_credential(SAMPLE_IDENTITY, test=True)
    serial = credential.certificate.serial_number
    await register(credential)
    mark = seal_image("测试")
    pdf = await timed(
        "applicant_sign",
        lambda: service.sign_applicant(rendered.pdf, credential, rendered.applicant_box, mark),
    )
    pdf = await timed("bank_sign", lambda: service.sign_bank(pdf, rendered.bank_box))
    status = await book()
    pdf = await timed(
        "long_term_validation",
        lambda: service.add_long_term_validation(pdf, status, signer_certificates(pdf)),
    )
    roots = [asn1_certificate(service.authority.root.certificate)]
    report = await timed("validation", lambda: validate_pdf(pdf, roots))
    if report.verdict is not Verdict.TEST_ONLY:
        problems = report.problems + [p for s in report.signatures for p in s.problems]
        raise SelftestFailed(
            f"validation: verdict {report.verdict}: {'; '.join(problems) or 'see report'}",
            step="validation",
        )
    return SelftestResult(pdf, steps, serial)
