"""The contract document: capital numerals, repayment schedules, rendering with real
Chinese glyphs (checked with poppler), the template sandbox and its worker."""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from loans.models import RepaymentMethod
from loans.schedule import add_months, repayment_schedule
from signing.contract.numerals import capital_amount
from signing.contract.render import (
    ContractTerms,
    RenderedContract,
    builtin_template,
    check_template,
    render_contract,
)
from signing.contract.workers import ContractRenderer
from signing.errors import TemplateInvalid
from tests.signing_support import pdf_text, require_tool

# Amount in fen -> the capital form. The first ones are the PBOC's own examples.
NUMERALS = [
    (600714, "陆仟零柒元壹角肆分"),
    (100000000, "壹佰万元整"),
    (15000000, "壹拾伍万元整"),
    (105, "壹元零伍分"),
    (5, "伍分"),
    (50, "伍角整"),
    (10050, "壹佰元伍角整"),
    (100456, "壹仟零肆元伍角陆分"),
    (10000000000, "壹亿元整"),
    (1001000001, "壹仟零壹万元零壹分"),
    (1000, "壹拾元整"),
    (0, "零元整"),
    (1000000100, "壹仟万零壹元整"),
]


@pytest.mark.parametrize(("fen", "expected"), NUMERALS)
def test_capital_numerals(fen: int, expected: str) -> None:
    assert capital_amount(fen) == expected


def test_capital_numerals_refuse_negative_amounts() -> None:
    with pytest.raises(ValueError, match="negative"):
        capital_amount(-1)


def test_month_arithmetic_clamps_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_equal_instalment_schedule_to_the_fen() -> None:
    amount, rate, months = 150_000_00, 43_500, 12
    schedule = repayment_schedule(
        amount, rate, months, RepaymentMethod.EQUAL_INSTALMENT, date(2026, 1, 31)
    )
    monthly = Decimal(rate) / Decimal(1_000_000) / 12
    level = Decimal(amount) * monthly * (1 + monthly) ** months / ((1 + monthly) ** months - 1)
    rows = schedule.rows
    assert rows[0].payment_fen == round(level) == 1279649
    assert rows[0].interest_fen == 54375  # 150000 * 4.35 % / 12
    assert {r.payment_fen for r in rows[:-1]} == {1279649}
    assert rows[-1].balance_fen == 0 and rows[-1].payment_fen == 1279644
    assert schedule.total_principal_fen == amount
    assert schedule.total_payment_fen == schedule.total_principal_fen + schedule.total_interest_fen
    assert [r.due for r in rows[:2]] == [date(2026, 2, 28), date(2026, 3, 31)]


def test_equal_principal_schedule_to_the_fen() -> None:
    schedule = repayment_schedule(
        100_000_01, 36_000, 3, RepaymentMethod.EQUAL_PRINCIPAL, date(2026, 5, 10)
    )
    principal = [r.principal_fen for r in schedule.rows]
    assert principal == [33_333_34, 33_333_34, 33_333_33]  # the last row absorbs rounding
    assert [r.interest_fen for r in schedule.rows] == [30_000, 20_000, 10_000]
    assert schedule.total_principal_fen == 100_000_01


def test_schedules_always_repay_the_amount_exactly() -> None:
    rng = random.Random(5)
    for _ in range(300):
        amount = rng.randint(1, 100_000_000_00)
        months = rng.randint(1, 360)
        rate = rng.randint(0, 240_000)
        for method in RepaymentMethod:
            schedule = repayment_schedule(amount, rate, months, method, date(2026, 1, 15))
            assert schedule.total_principal_fen == amount
            assert schedule.rows[-1].balance_fen == 0
            assert all(r.principal_fen >= 0 and r.interest_fen >= 0 for r in schedule.rows)
            assert len(schedule.rows) == months


def terms(**changes: object) -> ContractTerms:
    values: dict[str, object] = {
        "contract_number": "HT2026112900000001",
        "bank_name": "示例银行股份有限公司",
        "company_name": "福州闽江贸易有限公司",
        "credit_code": "91350100M000100Y43",
        "legal_rep_name": "林小明",
        "amount_fen": 150_000_00,
        "annual_rate_ppm": 43_500,
        "term_months": 24,
        "method": RepaymentMethod.EQUAL_INSTALMENT,
        "start": date(2026, 12, 1),
    }
    values.update(changes)
    return ContractTerms(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderedContract, Path]:
    contract = render_contract(builtin_template(), 1, terms())
    path = tmp_path_factory.mktemp("contract") / "contract.pdf"
    path.write_bytes(contract.pdf)
    return contract, path


def test_the_chinese_text_round_trips_through_poppler(
    rendered: tuple[RenderedContract, Path],
) -> None:
    contract, path = rendered
    # Layout mode keeps table rows together but drops spaces between CJK glyphs.
    text = "".join(pdf_text(path).split())
    for expected in (
        "流动资金借款合同",
        "福州闽江贸易有限公司",
        "91350100M000100Y43",
        "林小明",
        "壹拾伍万元整",
        "150,000.00",
        "等额本息",
        "4.35%",
        "2028年12月01日",
        "合计",
        f"第 1 页 共 {contract.page_count} 页",
        "合同编号：HT2026112900000001",
        "电子签名",
    ):
        assert "".join(expected.split()) in text, expected
    schedule = repayment_schedule(
        150_000_00, 43_500, 24, RepaymentMethod.EQUAL_INSTALMENT, date(2026, 12, 1)
    )
    total = schedule.total_payment_fen
    assert f"{total // 100:,}.{total % 100:02d}" in text


def test_the_font_is_an_embedded_subset_and_pages_draw_as_glyphs(
    rendered: tuple[RenderedContract, Path], tmp_path: Path
) -> None:
    contract, path = rendered
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line]
    assert cjk and all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in cjk), fonts
    subprocess.run(
        [
            require_tool("pdftoppm"),
            "-r",
            "60",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            str(path),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    page = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("L"))
    ink = np.count_nonzero(page < 128) / page.size
    assert 0.01 < ink < 0.3  # text, not a blank page and not tofu blocks
    assert contract.page_count >= 2


def test_values_are_text_not_markup(tmp_path: Path) -> None:
    contract = render_contract(
        builtin_template(), 1, terms(company_name="<b>A&B</b>贸易公司", contract_number="HT-X")
    )
    path = tmp_path / "contract.pdf"
    path.write_bytes(contract.pdf)
    assert "借款人（乙方）：<b>A&B</b>贸易公司" in pdf_text(path)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("# title only", "[[schedule]]"),
        ("[[schedule]]\n[[signatures]]\n{{ amount", "does not render"),
        ("[[schedule]]\n[[signatures]]\n{{ nonexistent }}", "does not render"),
        ("[[schedule]]\n[[signatures]]\n{{ ''.__class__.__mro__ }}", "does not render"),
        ("[[schedule]]\n[[signatures]]\n{{ cycler.__init__.__globals__ }}", "does not render"),
        ("[[schedule]]\n[[signatures]]\n" + "x" * 100_001, "longer"),
    ],
)
def test_templates_that_cannot_render_are_refused(body: str, problem: str) -> None:
    with pytest.raises(TemplateInvalid, match=problem.replace("[", r"\[").replace("]", r"\]")):
        check_template(body)


def test_the_builtin_template_passes_its_own_check() -> None:
    check_template(builtin_template())


# Templates an attacker with the admin role saved: each passed the old check and
# then made every push fail with a 500, read a file or URL into the contract, or
# ran Python errors out of the sandbox.
HOSTILE_TEMPLATES = [
    ("<b>an unclosed tag", "not closed"),
    ("closing a tag that never opened</i>", "not open"),
    ('<img src="/etc/passwd"/>', "not allowed"),
    ('<img src="/var/lib/signroom/blobs/ab/abcdef"/>', "not allowed"),
    ('<img src="http://127.0.0.1:9/x.png" width="90000" height="90000"/>', "not allowed"),
    ('<font color="notacolour">x</font>', "not allowed"),
    ('<a href="file:///etc/passwd">x</a>', "not allowed"),
    ("an unknown entity &nosuch;", "&amp;"),
    ("a bare < in the text", "&lt;"),
    ("{% import 'other' as other %}", "may not include"),
    ("{% include 'other' %}", "may not include"),
    ("{% extends 'other' %}", "may not include"),
    ("{{ '{0}'.format_map(1) }}", "IndexError"),
    ("{{ 'x' * 5000000 }}", "repetition too long"),
    ("{{ ['x'] * 5000000 }}", "repetition too long"),
    ("{{ 7 ** 100000000 }}", "exponent too large"),
    ("{{ 'x' * 150000 }}{{ 'y' * 150000 }}", "longer than 200000 characters"),
    ("{% for i in range(2500) %}" + "续" * 60 + "\n{% endfor %}", "more than 100 pages"),
]


@pytest.mark.parametrize(("payload", "problem"), HOSTILE_TEMPLATES)
def test_hostile_templates_are_refused_and_never_reach_the_layout(
    payload: str, problem: str
) -> None:
    body = "[[schedule]]\n[[signatures]]\n" + payload
    with pytest.raises(TemplateInvalid, match=problem):
        check_template(body)
    # A real render enforces the same rules: a template saved before they existed
    # fails with a clear error instead of a 500.
    with pytest.raises(TemplateInvalid, match=problem):
        render_contract(body, 7, terms())


def test_templates_may_use_bold_italic_underline_and_line_breaks(tmp_path: Path) -> None:
    body = builtin_template().replace(
        "# 流动资金借款合同", "# <b>流动资金</b>借款合同\n<i>斜体</i><u>下划线</u><br/>A &amp; B"
    )
    check_template(body)
    path = tmp_path / "contract.pdf"
    path.write_bytes(render_contract(body, 2, terms()).pdf)
    text = pdf_text(path).replace(" ", "")  # poppler drops spaces in CJK wrapping
    assert "流动资金借款合同" in text and "斜体下划线" in text and "A&B" in text


async def test_the_template_worker_bounds_time_and_memory_and_frees_the_loop() -> None:
    renderer = ContractRenderer(timeout_seconds=4, memory_limit_bytes=1024 * 1024 * 1024)
    try:
        await renderer.check(builtin_template())  # the worker is up, its font loaded
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.1)

        ticker = asyncio.create_task(tick())
        # Ten thousand million loop steps (the sandbox allows ranges up to 100,000):
        # hours of CPU, on the event loop before.
        nested = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        with pytest.raises(TemplateInvalid, match="longer than 4 s"):
            await renderer.check("[[schedule]]\n[[signatures]]\n" + nested)
        ticker.cancel()
        # The loop kept running meanwhile (blocked, it would have ticked once).
        assert len(ticks) > 5
        # Ten thousand million characters: the address-space limit ends it.
        blowup = "{{ ('x' * 100000) | replace('x', 'y' * 100000) }}"
        with pytest.raises(TemplateInvalid, match="more memory"):
            await renderer.check("[[schedule]]\n[[signatures]]\n" + blowup)
        # The worker was replaced each time: the next contract renders.
        contract = await renderer.render(builtin_template(), 1, terms())
        assert contract.page_count >= 2 and contract.pdf.startswith(b"%PDF")
    finally:
        renderer.close()
