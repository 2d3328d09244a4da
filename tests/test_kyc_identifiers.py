"""Identity number checks (GB 11643) and value normalisation, without OCR."""

from datetime import date

import pytest

from kyc import idnumber
from kyc.documents.normalise import (
    LONG_TERM,
    any_date,
    cn_date,
    credit_code,
    id_number,
    period,
    registration_number,
)
from loans.identifiers import registration_number_problem


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the worked example of GB 11643-1999
        "513701199507176346",
        "440106196007309768",
    ],
)
def test_valid_numbers(number: str) -> None:
    assert idnumber.problem(number, today=date(2026, 11, 29)) is None
    assert idnumber.check_character(number[:17]) == number[17]


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("110105194912310021", "check character"),
        ("11010519491231002x", "17 digits"),
        ("01010519491231002X", "17 digits"),
        ("1101051949123100", "17 digits"),
        ("110105194902300026", "calendar date"),
        ("110105189912310024", "out of range"),
        ("110105203012310020", "out of range"),
    ],
)
def test_invalid_numbers_say_why(number: str, why: str) -> None:
    problem = idnumber.problem(number, today=date(2026, 11, 29))
    assert problem is not None
    assert why in problem


def test_birth_date_sex_and_mask() -> None:
    assert idnumber.birth_date("11010519491231002X") == date(1949, 12, 31)
    assert idnumber.sex("11010519491231002X") == "女"
    assert idnumber.sex("110105194912310010") == "男"
    assert idnumber.mask("11010519491231002X") == "1101**********002X"


def test_dates_and_periods() -> None:
    assert cn_date("出生1995年7月17日") == "1995-07-17"
    assert cn_date("1995年2月30日") is None
    assert any_date("2010.01.01") == "2010-01-01"
    assert period("2010.01.01-2020.12.12") == ("2010-01-01", "2020-12-12")
    assert period("2015年01月01日至长期") == ("2015-01-01", LONG_TERM)
    assert period("2015.01.01—长期") == ("2015-01-01", LONG_TERM)
    assert period("长期") is None


def test_number_cleanup_fixes_ocr_lookalikes_only_where_digits_belong() -> None:
    assert id_number(" 1101O5 1949l231002x ") == "11010519491231002X"
    assert id_number("11010519491231002") is None
    assert credit_code("代码 91350100m000100y43") == "91350100M000100Y43"
    # O, I, S, Z are not in the GB 32100 alphabet: they can only be misread digits.
    assert credit_code("9131O1154NTFFBFHE1") == "913101154NTFFBFHE1"


def test_registration_numbers_of_old_licences() -> None:
    assert registration_number_problem("310105000425516") is None
    assert registration_number_problem("440301104726593") is None
    assert "check digit" in (registration_number_problem("310105000425517") or "")
    assert "15 digits" in (registration_number_problem("31010500042551") or "")
    assert registration_number("注册号:3101O5000425516") == "310105000425516"
    assert registration_number("9135010000010043512") is None  # part of a longer run


def test_dates_in_chinese_numerals() -> None:
    assert any_date("二〇一〇年六月七日") == "2010-06-07"
    assert any_date("二O一O年十二月三十一日") == "2010-12-31"
    assert any_date("一九九九年十月二十日") == "1999-10-20"
    assert any_date("二〇一〇年十三月七日") is None
