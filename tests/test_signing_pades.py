"""The PAdES B-LTA file the pipeline produces, and tampering with it.

Built once per module with a fresh CA, the built-in TSA and this CA's own status
data (no network anywhere); pdfsig checks it independently.
"""

from __future__ import annotations

import asyncio
import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from loans.models import RepaymentMethod
from signing.contract.appearance import seal_image
from signing.contract.render import ContractTerms, builtin_template, render_contract
from signing.errors import SigningError
from signing.pades import StatusBook, signer_certificates
from signing.pki.event import SignerIdentity
from signing.pki.keys import asn1_certificate
from signing.pki.revocation import CertificateStatus, Revocation, Status
from signing.service import SigningService, SigningSettings
from signing.validation import Verdict, validate_pdf
from tests.signing_support import drawn_mark, pdfsig

IDENTITY = SignerIdentity(
    name="林小明", id_number="11010519491231002X", company="福州闽江贸易有限公司"
)


class Book:
    """The CA's records as the database would hold them."""

    def __init__(self, service: SigningService) -> None:
        self.issued = set(service.service_serials())
        self.revoked: dict[int, Revocation] = {}

    def status(self, serial: int) -> CertificateStatus:
        if serial in self.revoked:
            return CertificateStatus(Status.REVOKED, self.revoked[serial])
        return CertificateStatus(Status.GOOD if serial in self.issued else Status.UNKNOWN)

    def snapshot(self) -> StatusBook:
        revoked = list(self.revoked.values())
        return StatusBook(self.status, lambda: revoked, lambda: [])


@dataclass
class Signed:
    service: SigningService
    book: Book
    unsigned: bytes
    pdf: bytes
    root: asn1_x509.Certificate
    applicant: x509.Certificate


def terms() -> ContractTerms:
    return ContractTerms(
        "HT-TEST-0001",
        "示例银行股份有限公司",
        IDENTITY.company,
        "91350100M000100Y43",
        IDENTITY.name,
        150_000_00,
        43_500,
        12,
        RepaymentMethod.EQUAL_INSTALMENT,
        datetime.now(UTC).date(),
    )


async def sign_contract(
    service: SigningService, book: Book, *, revoke_applicant: bool = False
) -> tuple[bytes, bytes, x509.Certificate]:
    rendered = render_contract(builtin_template(), 1, terms())
    credential = service.issue_event_credential(IDENTITY)
    book.issued.add(credential.certificate.serial_number)
    pdf = await service.sign_applicant(
        rendered.pdf, credential, rendered.applicant_box, drawn_mark()
    )
    if revoke_applicant:
        serial = credential.certificate.serial_number
        book.revoked[serial] = Revocation(
            serial, datetime.now(UTC) - timedelta(minutes=1), x509.ReasonFlags.key_compromise
        )
    pdf = await service.sign_bank(pdf, rendered.bank_box)
    pdf = await service.add_long_term_validation(pdf, book.snapshot(), signer_certificates(pdf))
    return rendered.pdf, pdf, credential.certificate


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    directory = tmp_path_factory.mktemp("pki")
    service = SigningService.open(
        SigningSettings(directory, b"test passphrase", "示例银行股份有限公司", "http://127.0.0.1:9")
    )
    book = Book(service)
    unsigned, pdf, applicant = asyncio.run(sign_contract(service, book))
    return Signed(
        service,
        book,
        unsigned,
        pdf,
        asn1_certificate(service.authority.root.certificate),
        applicant,
    )


async def verdict(signed: Signed, pdf: bytes, **kwargs: object) -> Verdict:
    report = await validate_pdf(pdf, [signed.root], **kwargs)  # type: ignore[arg-type]
    return report.verdict


async def test_the_contract_is_valid_now_and_ten_years_on_without_a_network(signed: Signed) -> None:
    now = await validate_pdf(signed.pdf, [signed.root])
    assert now.verdict is Verdict.VALID, now
    fields = [(r.kind, r.field_name) for r in now.signatures]
    assert fields[:2] == [("signature", "applicant"), ("signature", "bank")]
    assert fields[-1][0] == "document_timestamp"
    for report in now.signatures:
        assert report.intact and report.trusted and report.timestamp is not None
    later = await validate_pdf(
        signed.pdf, [signed.root], at=datetime.now(UTC) + timedelta(days=3653)
    )
    assert later.verdict is Verdict.VALID, later
    # ... while its event certificate expired years before.
    assert signed.applicant.not_valid_after_utc < datetime.now(UTC) + timedelta(minutes=11)


async def test_status_data_a_few_seconds_older_than_the_document_timestamp_holds(
    tmp_path: Path,
) -> None:
    """What the journey hit: the OCSP answers were issued a second before the document
    timestamp that proves them, an hour ago; the contract is valid now and ten years
    on. A clock that moves 2 s at every reading makes that gap certain."""
    readings = itertools.count()
    start = datetime.now(UTC) - timedelta(hours=1)

    def clock() -> datetime:
        return start + timedelta(seconds=2 * next(readings))

    service = SigningService.open(
        SigningSettings(tmp_path, b"pw", "示例银行股份有限公司", "http://127.0.0.1:9"), clock
    )
    _unsigned, pdf, _applicant = await sign_contract(service, Book(service))
    root = asn1_certificate(service.authority.root.certificate)
    for at in (None, datetime.now(UTC) + timedelta(days=3653)):
        report = await validate_pdf(pdf, [root], at=at)
        assert report.verdict is Verdict.VALID, (at, report)


async def test_another_root_does_not_validate_it(signed: Signed, tmp_path: Path) -> None:
    other = SigningService.open(SigningSettings(tmp_path, b"x", "别的银行", "http://127.0.0.1:9"))
    report = await validate_pdf(signed.pdf, [asn1_certificate(other.authority.root.certificate)])
    assert report.verdict is Verdict.INVALID


def test_pdfsig_finds_both_signatures_valid(signed: Signed, tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    path.write_bytes(signed.pdf)
    output = pdfsig(path)
    assert output.count("Signature Validation: Signature is Valid.") == 2, output
    assert "Signature Field Name: applicant" in output and "Signature Field Name: bank" in output


async def test_a_byte_changed_inside_a_signed_range_is_caught(signed: Signed) -> None:
    marker = b"ReportLab"
    at = signed.pdf.index(marker)
    assert at < len(signed.unsigned)  # inside the first revision, which both signatures cover
    tampered = signed.pdf[:at] + b"ReportLaB" + signed.pdf[at + len(marker) :]
    report = await validate_pdf(tampered, [signed.root])
    assert report.verdict is Verdict.INVALID
    assert not report.signatures[0].intact and not report.signatures[1].intact


def _update(pdf: bytes, change: object) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    change(writer)  # type: ignore[operator]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


async def test_an_incremental_update_changing_page_content_is_caught(signed: Signed) -> None:
    def rewrite(writer: IncrementalPdfFileWriter) -> None:
        page = writer.root["/Pages"]["/Kids"][0].get_object()
        stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (PAID IN FULL) Tj ET")
        page["/Contents"] = writer.add_object(stream)
        writer.update_container(page)

    report = await validate_pdf(_update(signed.pdf, rewrite), [signed.root])
    assert report.verdict is Verdict.INVALID
    assert any("modif" in p for r in report.signatures for p in r.problems), report


async def test_an_added_overlay_annotation_is_caught(signed: Signed) -> None:
    def overlay(writer: IncrementalPdfFileWriter) -> None:
        page = writer.root["/Pages"]["/Kids"][0].get_object()
        note = generic.DictionaryObject(  # type: ignore[no-untyped-call]
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.FloatObject(v) for v in (90, 600, 400, 660)]  # type: ignore[no-untyped-call]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("利率 0.1%"),
                generic.NameObject("/DA"): generic.TextStringObject("/Helv 18 Tf 1 0 0 rg"),
            }
        )
        annotations = page.get("/Annots", generic.ArrayObject())
        annotations.append(writer.add_object(note))
        page["/Annots"] = annotations
        writer.update_container(page)

    report = await validate_pdf(_update(signed.pdf, overlay), [signed.root])
    assert report.verdict is Verdict.INVALID


async def test_a_removed_signature_is_caught(signed: Signed) -> None:
    # Cut the file back to the revision before the bank's seal: what remains is the
    # applicant's intact signature, but not a signed contract.
    reader = PdfFileReader(io.BytesIO(signed.pdf))
    bank = next(s for s in reader.embedded_signatures if s.field_name == "bank")
    start = bank.byte_range[0] + bank.byte_range[1]  # the applicant's revision ends before
    applicant = next(s for s in reader.embedded_signatures if s.field_name == "applicant")
    end = applicant.byte_range[2] + applicant.byte_range[3]
    truncated = signed.pdf[:end]
    assert end < start
    report = await validate_pdf(truncated, [signed.root])
    assert report.verdict is Verdict.INVALID
    assert "the bank signature is missing" in report.problems

    def unsign(writer: IncrementalPdfFileWriter) -> None:
        fields = writer.root["/AcroForm"]["/Fields"]
        for ref in list(fields):
            field = ref.get_object()
            if field.get("/T") == "bank":
                del field["/V"]
                writer.update_container(field)

    report = await validate_pdf(_update(signed.pdf, unsign), [signed.root])
    assert report.verdict is Verdict.INVALID


async def test_a_revoked_applicant_certificate_stops_the_pipeline(signed: Signed) -> None:
    with pytest.raises(SigningError) as caught:
        await sign_contract(signed.service, signed.book, revoke_applicant=True)
    assert caught.value.step == "validation_data"
    assert caught.value.code == "certificate_revoked"


async def test_status_data_naming_the_applicant_revoked_before_signing_is_caught(
    signed: Signed,
) -> None:
    # The OCSP answer says good but the issuing CA's CRL lists the applicant's
    # certificate as revoked an hour before it signed: the weaker freshness rule
    # that lets a contract outlive its event certificate must still see that.
    service, book = signed.service, signed.book
    rendered = render_contract(builtin_template(), 1, terms())
    credential = service.issue_event_credential(IDENTITY)
    serial = credential.certificate.serial_number
    book.issued.add(serial)
    pdf = await service.sign_applicant(
        rendered.pdf, credential, rendered.applicant_box, drawn_mark()
    )
    pdf = await service.sign_bank(pdf, rendered.bank_box)
    revoked = [
        Revocation(serial, datetime.now(UTC) - timedelta(hours=1), x509.ReasonFlags.key_compromise)
    ]
    listed = StatusBook(book.status, lambda: revoked, lambda: [])
    pdf = await service.add_long_term_validation(pdf, listed, signer_certificates(pdf))
    for at in (None, datetime.now(UTC) + timedelta(days=3653)):
        report = await validate_pdf(pdf, [signed.root], at=at)
        assert report.verdict is Verdict.INVALID, (at, report)
        applicant = next(r for r in report.signatures if r.field_name == "applicant")
        assert not applicant.valid


def pdf_with_catalog(extra: bytes, *objects: bytes) -> bytes:
    """A minimal PDF whose catalog carries `extra`, objects 3 on as given: the
    deep-array and reference-loop files an attacker sent to /verify."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R " + extra + b" >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate([*bodies, *objects], 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(offsets) + 1,
        xref,
    )
    return out


async def test_garbage_is_not_a_pdf(signed: Signed) -> None:
    from signing.errors import PdfUnreadable

    for data in (
        b"",
        b"%PDF-1.7\n%%EOF",
        b"\x00" * 1000,
        signed.pdf[:200],
        pdf_with_catalog(b"/X " + b"[" * 50_000 + b"]" * 50_000),
        pdf_with_catalog(
            b"/AcroForm 3 0 R",
            b"<< /Fields [4 0 R] >>",
            b"<< /FT /Sig /T (a) /V 5 0 R /Parent 4 0 R /Kids [4 0 R] >>",
            b"<< /Type /Sig /Contents <00> /ByteRange [0 1 2 3] >>",
        ),
    ):
        with pytest.raises(PdfUnreadable):
            await validate_pdf(data, [signed.root])


def test_the_bank_seal_picture_and_mark_checks() -> None:
    from signing.contract.appearance import check_mark
    from signing.errors import MarkInvalid

    assert seal_image("示例银行").startswith(b"\x89PNG")
    assert check_mark(drawn_mark()).startswith(b"\x89PNG")
    blank = io.BytesIO()
    from PIL import Image

    Image.new("RGBA", (600, 220), (0, 0, 0, 0)).save(blank, "PNG")
    jpeg = io.BytesIO()
    Image.new("RGB", (600, 220)).save(jpeg, "JPEG")
    for bad in (blank.getvalue(), jpeg.getvalue(), b"not an image", drawn_mark(20, 20)):
        with pytest.raises(MarkInvalid):
            check_mark(bad)
