"""Business licence (营业执照): the 2016 unified layout, horizontal and vertical,
and the layouts still in people's hands (individual businesses, sole
proprietorships, partnerships, the old 注册号 licences)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from kyc.documents.layout import UNPLACED_CONFIDENCE_FACTOR, FormSpec, extract
from kyc.documents.normalise import any_date, credit_code, period, registration_number
from kyc.fields import Field, Fields
from kyc.ocr import OcrLine
from loans.identifiers import credit_code_problem, registration_number_problem

# Each layout prints the person who answers for the business under its own title;
# they all fill legal_representative, whose label says which was printed.
REPRESENTATIVE_LABELS = ("法定代表人", "经营者", "投资人", "执行事务合伙人", "负责人")

LICENCE = FormSpec(
    labels={
        "名称": "company_name",
        "统一社会信用代码": "credit_code",
        "注册号": "registration_number",
        "类型": "company_type",
        "企业类型": "company_type",
        "合伙企业类型": "company_type",
        "组成形式": "composition_form",
        **dict.fromkeys(REPRESENTATIVE_LABELS, "legal_representative"),
        "注册资本": "registered_capital",
        "出资额": "registered_capital",
        "成员出资总额": "registered_capital",
        "成立日期": "established",
        "注册日期": "established",
        "营业期限": "business_term",
        "合伙期限": "business_term",
        "经营期限": "business_term",
        "住所": "address",
        "经营场所": "address",
        "主要经营场所": "address",
        "营业场所": "address",
        "经营范围": "business_scope",
        "营业执照": None,
        "证照编号": None,
        "档案号": None,
        "实收资本": None,
        "登记机关": None,
        "国家企业信用信息公示系统": None,
    },
    multiline=frozenset({"company_name", "address", "business_scope"}),
)

TEXT_FIELDS = (
    "company_name",
    "company_type",
    "composition_form",
    "legal_representative",
    "registered_capital",
    "address",
    "business_scope",
)


def parse_licence(lines: list[OcrLine]) -> Fields:
    """company_name, credit_code or registration_number, company_type,
    composition_form, legal_representative (with the label printed),
    registered_capital, established, business_term, address, business_scope."""
    raw = extract(lines, LICENCE)
    fields: Fields = {name: raw[name] for name in TEXT_FIELDS if name in raw}
    for name, normalise, problem in (
        ("credit_code", credit_code, credit_code_problem),
        ("registration_number", registration_number, registration_number_problem),
    ):
        found = _normalised(raw.get(name), normalise) or _anywhere(lines, normalise, problem)
        if found is not None:
            fields[name] = found
    if "established" in raw and (day := any_date(raw["established"].value)):
        fields["established"] = replace(raw["established"], value=day)
    if "business_term" in raw and (span := period(raw["business_term"].value)):
        fields["business_term"] = replace(raw["business_term"], value=f"{span[0]}/{span[1]}")
    return fields


Normaliser = Callable[[str], str | None]


def _normalised(field: Field | None, normalise: Normaliser) -> Field | None:
    if field is None or (value := normalise(field.value)) is None:
        return None
    return Field(value, field.confidence, field.label)


def _anywhere(
    lines: list[OcrLine], normalise: Normaliser, problem: Callable[[str], str | None]
) -> Field | None:
    """The identifier when the layout parse did not place it (its label lost, or
    its value printed far from it): the first line holding one whose check
    character holds, so that stray text is never taken for it."""
    for line in lines:
        value = normalise(re.sub(r"\s+", "", line.text))
        if value is not None and problem(value) is None:
            return Field(value, line.confidence * UNPLACED_CONFIDENCE_FACTOR)
    return None
