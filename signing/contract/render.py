"""Rendering the loan contract PDF from a versioned template and an application's terms.

The template is Jinja2 text run in a sandbox (admins edit it, so it must not reach
Python objects) with a line-based layout: "# " title, "## " clause heading,
"[[schedule]]" the repayment table, "[[signatures]]" the signature page, any
other text a paragraph. Values are escaped for reportlab's paragraph markup, and
the template's own markup is limited to bold, italic, underline and line breaks:
reportlab's other tags read files and URLs (images) or fail at layout (colours).
Chinese is drawn with an embedded subset of Debian's WenQuanYi Zen Hei.

A template is code an admin wrote, so it is checked by rendering and laying out a
sample contract, and both that check and every real render run in a worker
process with time and memory limits (signing/contract/workers.py).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from loans.models import RepaymentMethod
from loans.schedule import Schedule, add_months, repayment_schedule
from signing.contract.numerals import capital_amount
from signing.errors import TemplateInvalid
from signing.pades import SignatureBox

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT = "WenQuanYiZenHei"
BUILTIN_TEMPLATE = Path(__file__).with_name("templates") / "loan_contract_v1.txt"
MAX_TEMPLATE_CHARS = 100_000
# What a template may expand to, and the pages it may fill: a contract, not a
# way to make the worker lay out megabytes of text.
MAX_CONTRACT_CHARS = 200_000
MAX_PAGES = 100
MARKUP_TAGS = ("b", "i", "u")
_TAG = re.compile(r"<[^<>]*>")
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|nbsp|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_FORBIDDEN_NODES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)

# The document information's /Subject names the evidence manifest, inside what
# both signatures cover; `signroom verify-evidence` reads it from the signed revision.
EVIDENCE_SUBJECT_PREFIX = "signroom-evidence-sha256:"

# Signature appearances sit at fixed places on the last page (the signature page).
APPLICANT_BOX = (70, 430, 280, 530)
BANK_BOX = (320, 430, 530, 530)

METHOD_LABELS = {
    RepaymentMethod.EQUAL_INSTALMENT: "等额本息",
    RepaymentMethod.EQUAL_PRINCIPAL: "等额本金",
}


@dataclass(frozen=True, slots=True)
class ContractTerms:
    contract_number: str
    bank_name: str
    company_name: str
    credit_code: str
    legal_rep_name: str
    amount_fen: int
    annual_rate_ppm: int
    term_months: int
    method: RepaymentMethod
    start: date
    # SHA-256 of the interview evidence manifest this contract rests on (compliance/evidence.py).
    evidence_sha256: str = ""


@dataclass(frozen=True, slots=True)
class RenderedContract:
    pdf: bytes
    sha256: str
    page_count: int
    template_version: int

    @property
    def applicant_box(self) -> SignatureBox:
        return SignatureBox(self.page_count - 1, APPLICANT_BOX)

    @property
    def bank_box(self) -> SignatureBox:
        return SignatureBox(self.page_count - 1, BANK_BOX)


def register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        if not FONT_PATH.exists():
            raise TemplateInvalid(
                f"CJK font {FONT_PATH} is missing: install Debian's fonts-wqy-zenhei"
            )
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_PATH), subfontIndex=0))


def yuan(amount_fen: int) -> str:
    return f"{amount_fen // 100:,}.{amount_fen % 100:02d}"


def _percent(rate_ppm: int) -> str:
    whole, rest = divmod(rate_ppm, 10_000)
    return f"{whole}.{rest:04d}".rstrip("0").rstrip(".")


class _ContractSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with `*` and `**` bounded: `'x' * 10**9` is one expression."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(count, int)
                    and len(sequence) * count > MAX_CONTRACT_CHARS
                ):
                    raise SecurityError("repetition too long")
        return super().call_binop(context, operator, left, right)


_environment = _ContractSandbox(
    undefined=StrictUndefined,
    autoescape=False,
    finalize=lambda value: escape(str(value)),
)


SAMPLE_TERMS = ContractTerms(
    "HT-CHECK",
    "示例银行",
    "示例公司",
    "91350100M000100Y43",
    "张三",
    100_000_00,
    43_500,
    12,
    RepaymentMethod.EQUAL_INSTALMENT,
    date(2026, 1, 1),
)


def check_template(body: str) -> None:
    """Refuse a template that cannot render and lay out a sample contract.

    Runs the template: call it in a worker (signing/contract/workers.py).
    """
    if len(body) > MAX_TEMPLATE_CHARS:
        raise TemplateInvalid(f"template longer than {MAX_TEMPLATE_CHARS} characters")
    for marker in ("[[schedule]]", "[[signatures]]"):
        if marker not in body:
            raise TemplateInvalid(f"template must contain {marker} on a line of its own")
    render_contract(body, 0, SAMPLE_TERMS)


def _expand(body: str, terms: ContractTerms, schedule: Schedule) -> str:
    values: dict[str, Any] = {
        "contract_number": terms.contract_number,
        "bank_name": terms.bank_name,
        "company_name": terms.company_name,
        "credit_code": terms.credit_code,
        "legal_rep_name": terms.legal_rep_name,
        "amount": yuan(terms.amount_fen),
        "amount_capital": capital_amount(terms.amount_fen),
        "rate": _percent(terms.annual_rate_ppm),
        "term_months": terms.term_months,
        "start_date": terms.start.strftime("%Y年%m月%d日"),
        "end_date": add_months(terms.start, terms.term_months).strftime("%Y年%m月%d日"),
        "method_label": METHOD_LABELS[terms.method],
        "total_interest": yuan(schedule.total_interest_fen),
        "total_payment": yuan(schedule.total_payment_fen),
        "evidence_sha256": terms.evidence_sha256 or "—",
    }
    try:
        if any(_environment.parse(body).find_all(_FORBIDDEN_NODES)):
            raise TemplateInvalid("templates may not include, import or extend other templates")
        parts: list[str] = []
        length = 0
        for part in _environment.from_string(body).generate(values):
            length += len(part)
            if length > MAX_CONTRACT_CHARS:
                raise TemplateInvalid(
                    f"the contract would be longer than {MAX_CONTRACT_CHARS} characters"
                )
            parts.append(part)
        return "".join(parts)
    except TemplateError as exc:
        raise TemplateInvalid(f"template does not render: {exc}") from None
    except (TemplateInvalid, MemoryError):
        raise
    except Exception as exc:
        # The template is code: any Python error it provokes is the template's
        # fault. Only the error's kind is told; its text may quote a value.
        raise TemplateInvalid(f"template does not render: {type(exc).__name__}") from None


def _check_markup(line: str) -> None:
    """Refuse markup other than balanced <b>, <i>, <u> and <br/>, and unknown entities."""
    open_tags: list[str] = []
    for tag in _TAG.findall(line):
        name = tag[1:-1].strip()
        if name == "br/":
            continue
        if name in MARKUP_TAGS:
            open_tags.append(name)
        elif name.startswith("/") and name[1:] in MARKUP_TAGS:
            if not open_tags or open_tags.pop() != name[1:]:
                raise TemplateInvalid(f"{tag} closes a tag that is not open")
        else:
            # Only the tag is quoted: values are escaped, so it is the template's text.
            raise TemplateInvalid(f"markup {tag[:40]} is not allowed (only <b>, <i>, <u>, <br/>)")
    if open_tags:
        raise TemplateInvalid(f"<{open_tags[-1]}> is not closed on its line")
    text = _ENTITY.sub("", _TAG.sub("", line))
    if "<" in text or "&" in text:
        raise TemplateInvalid("write a literal < or & as &lt; or &amp;")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=17, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle(
            "title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=8
        ),
        "heading": ParagraphStyle("heading", parent=base, fontSize=11.5, leading=20, spaceBefore=6),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
    }


def _schedule_table(schedule: Schedule, style: ParagraphStyle) -> Table:
    header = ["期数", "还款日", "应还本息", "应还本金", "应还利息", "剩余本金"]
    rows: list[list[str]] = [header]
    for row in schedule.rows:
        rows.append(
            [
                str(row.number),
                row.due.isoformat(),
                yuan(row.payment_fen),
                yuan(row.principal_fen),
                yuan(row.interest_fen),
                yuan(row.balance_fen),
            ]
        )
    rows.append(
        [
            "合计",
            "",
            yuan(schedule.total_payment_fen),
            yuan(schedule.total_principal_fen),
            yuan(schedule.total_interest_fen),
            "",
        ]
    )
    table = Table(
        rows, colWidths=[14 * mm, 26 * mm, 30 * mm, 30 * mm, 28 * mm, 30 * mm], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f6f6f6")),
                ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


class _NumberedCanvas(Canvas):
    """Writes "第 n 页 共 N 页" and the contract number once the page count is known."""

    contract_number = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(FONT, 8.5)
            self.drawCentredString(
                A4[0] / 2, 12 * mm, f"第 {self.getPageNumber()} 页 共 {total} 页"
            )
            self.drawRightString(A4[0] - 20 * mm, 12 * mm, f"合同编号：{self.contract_number}")
            super().showPage()
        super().save()


def _signature_page(terms: ContractTerms, styles: dict[str, ParagraphStyle]) -> list[Any]:
    # Coordinates of APPLICANT_BOX / BANK_BOX are fixed; this page only labels them.
    return [
        PageBreak(),
        Paragraph("（以下无正文，为本合同签署页）", styles["body"]),
        Spacer(1, 40 * mm),
        Table(
            [
                [
                    f"借款人（乙方）：{escape(terms.company_name)}",
                    f"贷款人（甲方）：{escape(terms.bank_name)}",
                ],
                [f"法定代表人：{escape(terms.legal_rep_name)}（电子签名）", "（电子印章）"],
            ],
            colWidths=[85 * mm, 85 * mm],
            style=TableStyle([("FONT", (0, 0), (-1, -1), FONT, 10.5)]),
        ),
    ]


def _paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    _check_markup(text)
    return Paragraph(text, style)


def render_contract(body: str, version: int, terms: ContractTerms) -> RenderedContract:
    register_font()
    schedule = repayment_schedule(
        terms.amount_fen, terms.annual_rate_ppm, terms.term_months, terms.method, terms.start
    )
    text = _expand(body, terms, schedule)
    styles = _styles()
    story: list[Any] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "[[schedule]]":
            story.append(_schedule_table(schedule, styles["cell"]))
        elif stripped == "[[signatures]]":
            story.extend(_signature_page(terms, styles))
        elif stripped.startswith("## "):
            story.append(KeepTogether([_paragraph(stripped[3:], styles["heading"])]))
        elif stripped.startswith("# "):
            story.append(_paragraph(stripped[2:], styles["title"]))
        else:
            story.append(_paragraph(stripped, styles["body"]))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=22 * mm,
        title=f"借款合同 {terms.contract_number}",
        author=terms.bank_name,
        subject=f"{EVIDENCE_SUBJECT_PREFIX}{terms.evidence_sha256}"
        if terms.evidence_sha256
        else "",
        creator="signroom",
        invariant=True,
    )

    class Numbered(_NumberedCanvas):
        contract_number = terms.contract_number

    try:
        document.build(story, canvasmaker=Numbered)
    except MemoryError:
        raise
    except Exception as exc:
        # reportlab reports a paragraph it cannot place with whatever error its
        # parser or layout hit; the template's text is the cause either way.
        raise TemplateInvalid(f"template does not lay out: {type(exc).__name__}") from None
    if document.page > MAX_PAGES:
        raise TemplateInvalid(f"the contract would have more than {MAX_PAGES} pages")
    pdf = buffer.getvalue()
    return RenderedContract(pdf, hashlib.sha256(pdf).hexdigest(), document.page, version)


def builtin_template() -> str:
    return BUILTIN_TEMPLATE.read_text(encoding="utf-8")
