"""Validating signed PDFs: every signature and document timestamp, with a readable report.

The verdict rests on pyHanko's bottom line (integrity, trust, timestamp), on
coverage (a signature must cover the whole revision it signed) and on the
modification level of later revisions — never on "intact" alone. Signatures are
validated as PAdES B-LTA (ETSI EN 319 102-1 § 5.6.3) at the requested time, so a
contract can be checked ten years on with nothing but the file and a trust root.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, async_validate_pdf_timestamp
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import (
    PdfSignatureStatus,
    SignatureCoverageLevel,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import CertTrustAnchor
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    REQUIRE_REVINFO,
    CertRevTrustPolicy,
    FreshnessReqType,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from signing.errors import PdfUnreadable
from signing.pki.policies import TEST_CERTIFICATE_POLICY

MAX_SIGNATURES = 16


class Verdict(StrEnum):
    VALID = "valid"
    # Every check holds, but a signer holds a selftest certificate: proves a
    # deployment's setup, is never a real signature.
    TEST_ONLY = "test_only"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class SignatureReport:
    field_name: str
    kind: str  # "signature" or "document_timestamp"
    signer: str
    signing_time: str | None  # claimed (/M or signingTime); not proof
    timestamp: str | None  # from a trusted time-stamp token
    coverage: str
    modification_level: str | None
    intact: bool
    trusted: bool
    revocation_checked: bool
    ltv: str  # AdES sub-indication, or "ok"
    test_certificate: bool
    valid: bool
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PdfReport:
    verdict: Verdict
    validated_at: str
    signatures: list[SignatureReport]
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _subject(status: Any) -> str:
    cert = getattr(status, "signing_cert", None)
    return str(cert.subject.human_friendly) if cert is not None else "?"


def _is_test_certificate(cert: asn1_x509.Certificate | None) -> bool:
    if cert is None or cert.certificate_policies_value is None:
        return False
    return any(
        info["policy_identifier"].dotted == TEST_CERTIFICATE_POLICY.dotted_string
        for info in cert.certificate_policies_value
    )


# The newest document timestamp is judged at the validation time; years on no
# status data is "current", so it is enough that status data issued after the
# token was made (the DSS update that follows it) shows the TSA unrevoked.
TIMESTAMP_REVINFO_POLICY = CertRevTrustPolicy(
    REQUIRE_REVINFO,
    freshness=timedelta(0),
    freshness_req_type=FreshnessReqType.TIME_AFTER_SIGNATURE,
)
# A signer's status data (issued seconds after signing, in the LTV step) is proven
# to exist only by the document timestamp that follows it. Past validation slides
# its control time to where the status data stops counting as fresh, and needs
# both the responder certificate's proof of existence (that timestamp) before it
# and the signer's certificate still valid at it. So the data counts as fresh for
# SIGNER_FRESHNESS after its issue: longer than the LTV step takes, shorter than
# an event certificate lives (SIGNROOM_EVENT_CERTIFICATE_SECONDS, 600). Status data
# issued more than that before the signature's timestamp proves nothing about it.
SIGNER_FRESHNESS = timedelta(seconds=30)
SIGNER_REVINFO_POLICY = CertRevTrustPolicy(
    REQUIRE_REVINFO,
    freshness=SIGNER_FRESHNESS,
    freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
)


def _spec(
    trust_roots: list[asn1_x509.Certificate], allow_fetching: bool
) -> PdfSignatureValidationSpec:
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(
            trust_roots=[CertTrustAnchor(root) for root in trust_roots]
        ),
        revinfo_policy=SIGNER_REVINFO_POLICY,
    )
    timestamp_policy = CertValidationPolicySpec(
        trust_manager=policy.trust_manager, revinfo_policy=TIMESTAMP_REVINFO_POLICY
    )
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            ts_cert_validation_policy=timestamp_policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=(
                    RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH
                    if allow_fetching
                    else RevinfoOnlineFetchingRule.LOCAL_ONLY
                )
            ),
            local_knowledge=LocalKnowledge(),
        )
    )


async def _document_timestamp_report(
    signature: EmbeddedPdfSignature,
    trust_roots: list[asn1_x509.Certificate],
    timing: ValidationTimingInfo,
    allow_fetching: bool,
) -> SignatureReport:
    dss = (
        DocumentSecurityStore.read_dss(signature.reader)
        if signature.reader.root.get("/DSS")
        else None
    )
    arguments: dict[str, Any] = {
        "trust_roots": trust_roots,
        "moment": timing.validation_time,
        "best_signature_time": timing.best_signature_time,
        "allow_fetching": allow_fetching,
        "revinfo_policy": TIMESTAMP_REVINFO_POLICY,
    }
    context = dss.as_validation_context(arguments) if dss else ValidationContext(**arguments)
    status = await async_validate_pdf_timestamp(signature, validation_context=context)
    problems: list[str] = []
    coverage_ok = status.coverage in (
        SignatureCoverageLevel.ENTIRE_REVISION,
        SignatureCoverageLevel.ENTIRE_FILE,
    )
    if not coverage_ok:
        problems.append(f"coverage is {status.coverage.name if status.coverage else 'unknown'}")
    modification_ok = status.modification_level in (
        None,
        ModificationLevel.NONE,
        ModificationLevel.LTA_UPDATES,
    )
    if not modification_ok:
        problems.append(f"later revisions modify the document ({status.modification_level})")
    token_ok = status.intact and status.valid and status.trusted
    if not token_ok:
        problems.append(
            "the timestamp token does not verify or its TSA is not trusted"
            f" ({status.trust_problem_indic})"
        )
    return SignatureReport(
        field_name=signature.field_name or "?",
        kind="document_timestamp",
        signer=_subject(status),
        signing_time=None,
        timestamp=status.timestamp.isoformat(),
        coverage=status.coverage.name if status.coverage else "unknown",
        modification_level=status.modification_level.name if status.modification_level else None,
        intact=bool(status.intact),
        trusted=bool(status.trusted),
        revocation_checked=bool(status.trusted),
        ltv="ok" if token_ok else "not_trusted",
        test_certificate=False,
        valid=not problems,
        problems=problems,
    )


async def _signature_report(
    signature: EmbeddedPdfSignature,
    spec: PdfSignatureValidationSpec,
    timing: ValidationTimingInfo,
) -> SignatureReport:
    result = await ades.ades_lta_validation(signature, spec, timing_info=timing)
    status = result.api_status
    problems: list[str] = []
    if status is None:
        problems.append(f"not validated: {result.ades_subindic!s}")
        return SignatureReport(
            field_name=signature.field_name or "?",
            kind="signature",
            signer="?",
            signing_time=None,
            timestamp=None,
            coverage="unknown",
            modification_level=None,
            intact=False,
            trusted=False,
            revocation_checked=False,
            ltv=str(result.ades_subindic),
            test_certificate=False,
            valid=False,
            problems=problems,
        )
    coverage = getattr(status, "coverage", None)
    modification = getattr(status, "modification_level", None)
    token = getattr(status, "timestamp_validity", None)
    timestamp_time: datetime | None = token.timestamp if token is not None else None
    if token is None:
        problems.append("no signature timestamp")
    coverage_ok = coverage in (
        SignatureCoverageLevel.ENTIRE_REVISION,
        SignatureCoverageLevel.ENTIRE_FILE,
    )
    if not coverage_ok:
        problems.append(f"coverage is {coverage.name if coverage else 'unknown'}")
    modification_ok = modification is None or modification in (
        ModificationLevel.NONE,
        ModificationLevel.LTA_UPDATES,
        ModificationLevel.FORM_FILLING,
    )
    if not modification_ok:
        problems.append(f"later revisions modify the document ({modification})")
    if not status.bottom_line:
        if not status.intact:
            problems.append("the signed bytes were changed")
        elif not status.valid:
            problems.append("the signature does not verify")
        elif not status.trusted:
            problems.append(f"signer not trusted or revoked: {status.trust_problem_indic}")
        else:
            problems.append("pyHanko's bottom line is negative")
    if isinstance(status, PdfSignatureStatus) and not status.docmdp_ok:
        problems.append("document modification policy violated")
    ltv_ok = result.ades_subindic.status is AdESStatus.PASSED
    if not ltv_ok:
        problems.append(f"long-term validation: {result.ades_subindic!s}")
    signing_time = getattr(signature, "self_reported_timestamp", None)
    valid = status.bottom_line and coverage_ok and modification_ok and ltv_ok and not problems
    return SignatureReport(
        field_name=signature.field_name or "?",
        kind="signature",
        signer=_subject(status),
        signing_time=signing_time.isoformat() if signing_time else None,
        timestamp=timestamp_time.isoformat() if timestamp_time else None,
        coverage=coverage.name if coverage else "unknown",
        modification_level=modification.name if modification else None,
        intact=bool(status.intact),
        trusted=bool(status.trusted),
        revocation_checked=bool(status.revocation_details is None or status.trusted),
        ltv="ok" if ltv_ok else str(result.ades_subindic),
        test_certificate=_is_test_certificate(getattr(status, "signing_cert", None)),
        valid=valid,
        problems=problems,
    )


@dataclass(frozen=True, slots=True)
class ContractProfile:
    """What a complete signed contract carries."""

    signature_fields: tuple[str, ...]
    document_timestamp: bool


CONTRACT = ContractProfile(signature_fields=("applicant", "bank"), document_timestamp=True)


def _missing(reports: list[SignatureReport], require: ContractProfile) -> list[str]:
    problems = []
    present = [r.field_name for r in reports if r.kind == "signature"]
    for name in require.signature_fields:
        if name not in present:
            problems.append(f"the {name} signature is missing")
    kinds = [r.kind for r in reports]
    if require.document_timestamp and (
        "document_timestamp" not in kinds or kinds[-1] != "document_timestamp"
    ):
        problems.append("no document timestamp after the signatures (not PAdES B-LTA)")
    return problems


def _newest_document_timestamp(signatures: list[EmbeddedPdfSignature]) -> datetime | None:
    """The time in the last document timestamp token, the best known time of existence.

    Used as the "signature time" when judging freshness of status data, so it is
    only trusted as far as the token itself validates.
    """
    for signature in reversed(signatures):
        if signature.sig_object_type == "/DocTimeStamp":
            info = signature.signed_data["encap_content_info"]["content"].parsed
            gen_time: datetime = info["gen_time"].native
            return gen_time
    return None


async def validate_pdf(
    pdf: bytes,
    trust_roots: list[asn1_x509.Certificate],
    *,
    at: datetime | None = None,
    allow_fetching: bool = False,
    require: ContractProfile | None = CONTRACT,
) -> PdfReport:
    """Validate every signature in `pdf` as of `at` (default: now).

    With `require` (the default: a signroom contract), the named signatures and a
    document timestamp after them must be present: a file from which a signature
    was stripped is not a valid contract, however intact the rest is.
    """
    moment = at or datetime.now(UTC)
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
        newest_token = _newest_document_timestamp(signatures)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise PdfUnreadable(f"not a readable PDF: {exc}") from None
    except RecursionError:
        # Objects nested thousands deep: pyHanko's parser recurses per level.
        raise PdfUnreadable("not a readable PDF: objects nested too deep") from None
    timing = ValidationTimingInfo(
        validation_time=moment,
        best_signature_time=min(newest_token or moment, moment),
        point_in_time_validation=at is not None,
    )
    problems: list[str] = []
    if not signatures:
        problems.append("the document carries no signature")
    if len(signatures) > MAX_SIGNATURES:
        raise PdfUnreadable(f"more than {MAX_SIGNATURES} signatures")
    spec = _spec(trust_roots, allow_fetching)
    reports: list[SignatureReport] = []
    for signature in signatures:
        try:
            if signature.sig_object_type == "/DocTimeStamp":
                report = await _document_timestamp_report(
                    signature, trust_roots, timing, allow_fetching
                )
            else:
                report = await _signature_report(signature, spec, timing)
            reports.append(report)
        except (SignatureValidationError, PdfReadError, ValueError, KeyError) as exc:
            problems.append(f"{signature.field_name}: cannot be validated ({exc})")
        except RecursionError:
            problems.append(f"{signature.field_name}: cannot be validated (nested too deep)")
    if reports and not any(r.kind == "signature" for r in reports):
        problems.append("only document timestamps, no signature")
    if require is not None:
        problems += _missing(reports, require)
    if problems or not all(r.valid for r in reports):
        verdict = Verdict.INVALID
    elif any(r.test_certificate for r in reports):
        verdict = Verdict.TEST_ONLY
    else:
        verdict = Verdict.VALID
    return PdfReport(verdict, moment.isoformat(), reports, problems)
