"""The signing flow of one contract, step by step, each step stored and audited.

push -> pages read -> code -> fresh liveness -> applicant signature (event
certificate) -> bank seal -> validation data and document timestamp -> signed.
The signed file is referenced only after the last step; until then the contract
shows "pushed" or "failed" with the step that failed, and the partial file (after
the last step that worked) lets that step be retried without starting over.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import Actor
from compliance.evidence import interview_manifest
from integration.notify import CodeMessage, Notifier
from interview.errors import (
    AlreadySigned,
    ContractBusy,
    IdentityUnverified,
    LivenessRequired,
    LiveRecheckRequired,
    MarkNotBase64,
    NotInInterview,
    NotSigned,
    PageNotFound,
    PagesUnread,
    PageUnavailable,
)
from interview.settings import InterviewSettings
from kyc.identity_paths import confirmed_on_call, live_recheck_needed
from kyc.records import latest_liveness, latest_readings
from kyc.workers import DocumentKind
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.consent import current_consents
from loans.models import Application
from loans.states import Action, State
from signing import certificate_register, codes, templates
from signing import contracts as contract_records
from signing.contract.appearance import check_mark
from signing.contract.render import APPLICANT_BOX, BANK_BOX, ContractTerms
from signing.contract.workers import ContractRenderer
from signing.contracts import Contract
from signing.errors import ContractConflict, NotAGeneratedContract, SigningError
from signing.pades import SignatureBox, signer_certificates
from signing.pki.event import SignerIdentity
from signing.service import SigningService
from store.blobs import BlobStore

PAGE_DPI = 110
PAGE_CACHE_SIZE = 64
_page_cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()

APPLICANT_SIGNED = "applicant_signed"
BANK_SEALED = "bank_sealed"
LONG_TERM_VALIDATION = "long_term_validation"

# Times one step (render, applicant_sign, bank_sign, long_term_validation) for
# whoever keeps the service's metrics.
StepTimer = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True, slots=True)
class InterviewServices:
    """What the signing flow works with, handed over explicitly by whoever runs it."""

    engine: AsyncEngine
    blobs: BlobStore
    signing: SigningService
    notifier: Notifier
    renderer: ContractRenderer
    settings: InterviewSettings
    timed: StepTimer


async def push(
    services: InterviewServices, actor: Actor, application: Application, request_id: str | None
) -> Contract:
    if application.state is not State.IN_INTERVIEW:
        raise NotInInterview("push the contract during the video interview")
    engine = services.engine
    if await live_recheck_needed(engine, application.id):
        raise LiveRecheckRequired(
            "the liveness check was a clip recorded on the phone; run a liveness re-check "
            "on the call before pushing the contract"
        )
    settings = services.settings
    template = await templates.current_template(engine)
    interview = await interview_manifest(engine, application.id)
    evidence_sha256 = await services.blobs.put(interview)
    now = datetime.now(UTC)
    number = contract_records.new_contract_number(now)
    terms = ContractTerms(
        contract_number=number,
        bank_name=settings.bank_name,
        company_name=application.company_name,
        credit_code=application.credit_code,
        legal_rep_name=application.legal_rep_name,
        amount_fen=application.amount_fen,
        annual_rate_ppm=application.annual_rate_ppm,
        term_months=application.term_months,
        method=application.repayment_method,
        start=now.astimezone(ZoneInfo(settings.display_timezone)).date(),
        evidence_sha256=evidence_sha256,
    )
    with services.timed("render"):
        rendered = await services.renderer.render(template.body, template.version, terms)
    await services.blobs.put(rendered.pdf)
    return await contract_records.push_contract(
        engine,
        actor,
        application.id,
        number,
        rendered,
        evidence_sha256=evidence_sha256,
        request_id=request_id,
    )


async def page_image(blobs: BlobStore, contract: Contract, page: int) -> bytes:
    """One page as PNG for the phone, rendered by poppler's pdftoppm."""
    if not 1 <= page <= contract.page_count:
        raise PageNotFound(f"the contract has pages 1 to {contract.page_count}")
    key = (contract.pdf_sha256, page)
    if key in _page_cache:
        _page_cache.move_to_end(key)
        return _page_cache[key]
    pdf = await blobs.get(contract.pdf_sha256)
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "contract.pdf"
        source.write_bytes(pdf)
        process = await asyncio.create_subprocess_exec(
            "pdftoppm",
            "-f",
            str(page),
            "-l",
            str(page),
            "-r",
            str(PAGE_DPI),
            "-png",
            "-singlefile",
            str(source),
            str(Path(directory) / "page"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await process.communicate()
        if process.returncode != 0:
            raise PageUnavailable("the page could not be drawn; try again")
        image = (Path(directory) / "page.png").read_bytes()
    _page_cache[key] = image
    if len(_page_cache) > PAGE_CACHE_SIZE:
        _page_cache.popitem(last=False)
    return image


async def send_code(
    services: InterviewServices,
    actor: Actor,
    application: Application,
    contract: Contract,
    request_id: str | None,
) -> None:
    if not contract.all_pages_read:
        raise PagesUnread("read every page of the contract first")
    minutes = services.settings.signing_code_minutes
    code = await codes.issue_code(
        services.engine, actor, contract, timedelta(minutes=minutes), request_id=request_id
    )
    await services.notifier.send_code(
        CodeMessage(
            application.id, application.legal_rep_phone, code, contract.contract_number, minutes
        )
    )


def decode_mark(encoded: str) -> bytes:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MarkNotBase64("the drawn signature is not base64 PNG data") from None
    return check_mark(raw)


async def _identity(
    engine: AsyncEngine, application: Application
) -> tuple[SignerIdentity, dict[str, object]]:
    """Who signs, from the verified documents, and which KYC results that rests on."""
    readings = await latest_readings(engine, application.id)
    front = readings.get(DocumentKind.ID_FRONT.value)
    if (
        front is None
        or "id_number" not in front.fields
        or not all(r.passed for r in readings.values())
    ):
        raise IdentityUnverified("identity verification is incomplete")
    basis: dict[str, object] = {
        "documents": {kind: reading.id for kind, reading in sorted(readings.items())},
    }
    if await confirmed_on_call(engine, application.id):
        # No face was matched: the manager confirmed the identity on the call.
        basis["identity_confirmed_by"] = "manager_on_call"
    elif (await current_consents(engine, application.id)).biometrics:
        attempt = await latest_liveness(engine, application.id)
        assert attempt is not None
        basis["liveness_attempt"] = attempt.id
        basis["face_distance"] = (attempt.result or {}).get("face_distance")
    else:
        # Biometric consent withdrawn after an automatic verification: what it
        # rested on is gone, and no manager has looked.
        raise IdentityUnverified("the identity must be confirmed by the manager on the call")
    identity = SignerIdentity(
        name=application.legal_rep_name,
        id_number=front.fields["id_number"].value,
        company=application.company_name,
    )
    return identity, basis


async def sign(
    services: InterviewServices,
    actor: Actor,
    application: Application,
    contract: Contract,
    code: str,
    mark_png: bytes,
    request_id: str | None,
) -> Contract:
    """The applicant's signature, then the bank's steps. Raises with the failed step."""
    engine = services.engine
    if application.state is not State.IN_INTERVIEW:
        raise NotInInterview("sign during the video interview")
    if contract.partial_step is not None:
        raise AlreadySigned("your signature is recorded; the bank is completing the contract")
    if not contract.all_pages_read:
        raise PagesUnread("read every page of the contract first")
    # Confirmed by the manager on the call: that, not a fresh face check, is the
    # identity this signature rests on.
    on_call = await confirmed_on_call(engine, application.id)
    if not on_call and (await current_consents(engine, application.id)).biometrics:
        attempt = await latest_liveness(engine, application.id)
        if attempt is None or attempt.issued_at < contract.pushed_at or attempt.status != "passed":
            raise LivenessRequired(
                "pass a fresh face and liveness check after the contract was shown"
            )
    identity, basis = await _identity(engine, application)
    # Last of the checks, so a refusal above does not use up the code.
    await codes.consume_code(engine, actor, contract, code, request_id=request_id)
    pdf = await services.blobs.get(contract.pdf_sha256)
    if hashlib.sha256(pdf).hexdigest() != contract.pdf_sha256:
        raise NotAGeneratedContract("the stored contract does not match what was rendered")
    service = services.signing
    credential = service.issue_event_credential(identity)
    serial = credential.certificate.serial_number
    await certificate_register.record_certificate(
        engine,
        actor,
        credential.certificate,
        "event",
        {
            "kyc_basis": basis,
            "id_hash": credential.id_hash,
            "id_hash_salt": credential.id_hash_salt,
        },
        application_id=application.id,
        contract_id=contract.id,
        request_id=request_id,
    )
    place = SignatureBox(contract.page_count - 1, APPLICANT_BOX)
    try:
        with services.timed("applicant_sign"):
            signed = await service.sign_applicant(pdf, credential, place, mark_png)
    except SigningError as exc:
        await contract_records.record_failure(
            engine, actor, contract, "applicant_sign", exc, request_id=request_id
        )
        raise
    finally:
        # The one reference to the event key: it signs once and is gone.
        del credential
    digest = await services.blobs.put(signed)
    await contract_records.record_step(
        engine,
        actor,
        contract,
        APPLICANT_SIGNED,
        contract.pdf_sha256,
        digest,
        {"certificate_serial": str(serial)},
        from_step=None,
        request_id=request_id,
    )
    return await complete(services, application, request_id)


# The bank's steps, each after the one named: (step, the step it follows).
_BANK_STEPS = ((BANK_SEALED, APPLICANT_SIGNED), (LONG_TERM_VALIDATION, BANK_SEALED))


async def complete(
    services: InterviewServices, application: Application, request_id: str | None
) -> Contract:
    """The bank's steps after the applicant signed: seal, validation data, timestamp.

    The applicant's request and the manager's retry can run this at once. Each step
    is recorded only if the contract is still at the step before it; the runner
    that loses a step reloads and goes on from where the other left it, so every
    step is recorded once and both callers get the signed contract."""
    engine = services.engine
    actor = SYSTEM_PRINCIPAL.actor
    for _attempt in range(len(_BANK_STEPS) + 2):
        contract = await contract_records.latest_contract(engine, application.id)
        if contract is None or contract.partial_sha256 is None or contract.partial_step is None:
            raise NotSigned("the applicant has not signed yet")
        if contract.status is contract_records.ContractStatus.SIGNED:
            return contract
        try:
            await _next_bank_step(services, contract, request_id)
        except ContractConflict:
            continue  # another runner recorded this step first
        except SigningError as exc:
            await contract_records.record_failure(
                engine,
                actor,
                contract,
                exc.step or contract.partial_step,
                exc,
                request_id=request_id,
            )
            raise
    raise ContractBusy("the contract is being completed; reload in a moment")


async def _next_bank_step(
    services: InterviewServices, contract: Contract, request_id: str | None
) -> None:
    engine = services.engine
    service = services.signing
    actor = SYSTEM_PRINCIPAL.actor
    assert contract.partial_sha256 is not None
    before = contract.partial_sha256
    pdf = await services.blobs.get(before)
    if contract.partial_step == APPLICANT_SIGNED:
        place = SignatureBox(contract.page_count - 1, BANK_BOX)
        with services.timed("bank_sign"):
            pdf = await service.sign_bank(pdf, place)
    elif contract.partial_step == BANK_SEALED:
        signers = signer_certificates(pdf)
        book = await certificate_register.status_book(
            engine, service.service_serials(), [c.serial_number for c in signers]
        )
        with services.timed("long_term_validation"):
            pdf = await service.add_long_term_validation(pdf, book, signers)
    else:
        await contract_records.mark_signed(engine, actor, contract, before, request_id=request_id)
        await apps.act(
            engine,
            SYSTEM_PRINCIPAL,
            contract.application_id,
            Action.SIGN_CONTRACT,
            request_id=request_id,
        )
        return
    step = next(s for s, after in _BANK_STEPS if after == contract.partial_step)
    after = await services.blobs.put(pdf)
    await contract_records.record_step(
        engine,
        actor,
        contract,
        step,
        before,
        after,
        from_step=contract.partial_step,
        request_id=request_id,
    )
