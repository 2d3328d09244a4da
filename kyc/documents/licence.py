"""Business licence (营业执照), the 2016 unified layout and its common variants."""

from __future__ import annotations

from kyc.documents.layout import FormSpec, extract
from kyc.documents.normalise import any_date, credit_code, period
from kyc.fields import Field, Fields
from kyc.ocr import OcrLine

LICENCE = FormSpec(
    labels={
        "名称": "company_name",
        "统一社会信用代码": "credit_code",
        "类型": "company_type",
        "法定代表人": "legal_representative",
        # Sole proprietorships and partnerships print these in its place.
        "经营者": "legal_representative",
        "执行事务合伙人": "legal_representative",
        "负责人": "legal_representative",
        "注册资本": "registered_capital",
        "出资额": "registered_capital",
        "成立日期": "established",
        "注册日期": "established",
        "营业期限": "business_term",
        "合伙期限": "business_term",
        "住所": "address",
        "经营场所": "address",
        "主要经营场所": "address",
        "经营范围": "business_scope",
        "营业执照": None,
        "登记机关": None,
        "国家企业信用信息公示系统": None,
    },
    multiline=frozenset({"company_name", "address", "business_scope"}),
)


def parse_licence(lines: list[OcrLine]) -> Fields:
    """company_name, credit_code, company_type, legal_representative,
    registered_capital, established, business_term, address, business_scope."""
    raw = extract(lines, LICENCE)
    fields: Fields = {}
    for name in (
        "company_name",
        "company_type",
        "legal_representative",
        "registered_capital",
        "address",
        "business_scope",
    ):
        if name in raw:
            fields[name] = raw[name]
    if "credit_code" in raw and (code := credit_code(raw["credit_code"].value)):
        fields["credit_code"] = Field(code, raw["credit_code"].confidence)
    if "established" in raw and (day := any_date(raw["established"].value)):
        fields["established"] = Field(day, raw["established"].confidence)
    if "business_term" in raw and (span := period(raw["business_term"].value)):
        fields["business_term"] = Field(f"{span[0]}/{span[1]}", raw["business_term"].confidence)
    return fields
