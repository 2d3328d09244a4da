"""The PAdES pipeline: applicant signature, bank seal, validation data, document timestamp.

Each step takes the document bytes and returns new bytes (one incremental
update); none writes anywhere, so a failing step leaves the previous file intact
and the caller decides what is stored. Together the steps produce PAdES B-LTA:
two B-T signatures, a DSS with VRI entries holding every certificate, CRL and
OCSP response needed to validate them, and a document timestamp over it all.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from PIL import Image
from pyhanko import stamp
from pyhanko.pdf_utils import images
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation.dss import DocumentSecurityStore

from signing.errors import (
    CertificateRevoked,
    SealUnavailable,
    SigningError,
    TimestampUnavailable,
)
from signing.pki.authority import ServiceAuthority
from signing.pki.keys import asn1_certificate
from signing.pki.revocation import (
    Revocation,
    Status,
    StatusLookup,
    build_crl,
    ocsp_request,
    ocsp_response,
)

APPLICANT_FIELD = "applicant"
BANK_FIELD = "bank"
DIGEST = "sha256"
# Room for the CMS container: two certificates, an ECDSA signature and a time-stamp
# token with the TSA's certificate come to about 5 KB. A fixed size spares pyHanko
# the dry-run signature (and time-stamp) it would otherwise make to estimate it.
SIGNATURE_BYTES = 12 * 1024


@dataclass(frozen=True, slots=True)
class SignatureBox:
    """Where a signature's appearance goes: a page index and (x1, y1, x2, y2) in points."""

    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class StatusBook:
    """The CA's revocation records, as the caller keeps them."""

    leaf_status: StatusLookup
    leaf_revocations: Callable[[], Sequence[Revocation]]
    ca_revocations: Callable[[], Sequence[Revocation]]


@dataclass(frozen=True, slots=True)
class ValidationMaterial:
    """Certificates, OCSP responses and CRLs that validate the given signers, as of now."""

    certificates: list[asn1_x509.Certificate]
    ocsps: list[asn1_ocsp.OCSPResponse]
    crls: list[asn1_crl.CertificateList]


def validation_material(
    authority: ServiceAuthority,
    book: StatusBook,
    now: datetime,
    leaves: Iterable[x509.Certificate],
) -> ValidationMaterial:
    """This CA's own answers about `leaves`: no network, and no path search, because
    the service knows its hierarchy. A revoked or unknown leaf stops here."""
    leaves = list(leaves)
    for leaf in leaves:
        answer = book.leaf_status(leaf.serial_number)
        if answer.status is Status.REVOKED:
            raise CertificateRevoked(
                "a signer's certificate is revoked; the contract cannot be completed",
                step="validation_data",
            )
        if answer.status is not Status.GOOD:
            raise SigningError(
                "a signer's certificate is not known to this CA", step="validation_data"
            )
    number = int(now.timestamp())
    issuing = authority.issuing.certificate
    crls = [
        build_crl(authority.root, book.ca_revocations(), now, number),
        build_crl(authority.issuing, book.leaf_revocations(), now, number),
    ]
    ocsps = [
        ocsp_response(ocsp_request(leaf, issuing), issuing, authority.ocsp, book.leaf_status, now)
        for leaf in leaves
    ]
    chain = [*leaves, issuing, authority.ocsp.certificate, authority.root.certificate]
    return ValidationMaterial(
        certificates=[asn1_certificate(c) for c in chain],
        ocsps=[asn1_ocsp.OCSPResponse.load(der) for der in ocsps],
        crls=[asn1_crl.CertificateList.load(der) for der in crls],
    )


def _style(mark_png: bytes | None) -> stamp.TextStampStyle:
    background = None
    if mark_png is not None:
        with Image.open(io.BytesIO(mark_png)) as picture:
            background = images.PdfImage(picture.convert("RGBA"))
    return stamp.TextStampStyle(
        stamp_text="%(ts)s",
        timestamp_format="%Y-%m-%d %H:%M:%S UTC",
        background=background,
        background_opacity=1.0,
        border_width=0,
    )


async def _sign(
    pdf: bytes,
    signer: signers.Signer,
    field: str,
    place: SignatureBox,
    timestamper: TimeStamper,
    mark_png: bytes | None,
    reason: str,
    step: str,
) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm=DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=_style(mark_png),
        new_field_spec=fields.SigFieldSpec(field, on_page=place.page, box=place.box),
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
        output = await pdf_signer.async_sign_pdf(
            writer, bytes_reserved=SIGNATURE_BYTES, in_place=False
        )
    except TimestampRequestError as exc:
        raise TimestampUnavailable(f"time-stamping failed: {exc}", step=step) from None
    except (PdfError, PyhankoSigningError) as exc:
        raise SigningError(f"{step} failed: {exc}", step=step) from None
    return output.getvalue()  # type: ignore[no-any-return]


async def sign_as_applicant(
    pdf: bytes,
    signer: signers.Signer,
    place: SignatureBox,
    timestamper: TimeStamper,
    mark_png: bytes,
) -> bytes:
    return await _sign(
        pdf, signer, APPLICANT_FIELD, place, timestamper, mark_png, "借款人签署", "applicant_sign"
    )


async def sign_as_bank(
    pdf: bytes,
    signer: signers.Signer,
    place: SignatureBox,
    timestamper: TimeStamper,
    seal_png: bytes,
) -> bytes:
    try:
        return await _sign(
            pdf, signer, BANK_FIELD, place, timestamper, seal_png, "贷款人盖章", "bank_sign"
        )
    except TimestampUnavailable:
        raise
    except SigningError as exc:
        raise SealUnavailable(str(exc), step="bank_sign") from None


def _register(
    writer: IncrementalPdfFileWriter, contents: bytes, material: ValidationMaterial
) -> None:
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        # pyHanko's VRI key convention (see DocumentSecurityStore.sig_content_identifier).
        contents.hex().encode("ascii"),
        certs=material.certificates,
        ocsps=material.ocsps,
        crls=material.crls,
    )


def _written(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


async def add_long_term_validation(
    pdf: bytes, material: Callable[[], ValidationMaterial], timestamper: TimeStamper
) -> bytes:
    """DSS/VRI for every signature, a document timestamp, then the timestamp's own status data.

    `material` is called before and after the timestamp: the status data that
    follows the token is dated after it, which is what lets a validator years
    later accept the token without a network (see signing.validation).
    """
    step = "validation_data"
    try:
        before = material()
        reader = PdfFileReader(io.BytesIO(pdf))
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
        for signature in reader.embedded_regular_signatures:
            _register(writer, signature.pkcs7_content, before)
        pdf = _written(writer)
        step = "document_timestamp"
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
        output = await signers.PdfTimeStamper(timestamper).async_timestamp_pdf(writer, DIGEST)
        pdf = output.getvalue()
        step = "timestamp_validation_data"
        after = material()
        token = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1]
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
        _register(writer, token.pkcs7_content, after)
        return _written(writer)
    except TimestampRequestError as exc:
        raise TimestampUnavailable(f"{step} failed: {exc}", step=step) from None
    except (PdfError, PyhankoSigningError, ValueError) as exc:
        raise SigningError(f"{step} failed: {exc}", step=step) from None


def signer_certificates(pdf: bytes) -> list[x509.Certificate]:
    """The signers' certificates of the regular signatures already in `pdf`."""
    reader = PdfFileReader(io.BytesIO(pdf))
    return [
        x509.load_der_x509_certificate(signature.signer_cert.dump())
        for signature in reader.embedded_regular_signatures
    ]
