"""PRC resident identity card (第二代居民身份证), front and back."""

from __future__ import annotations

import re
from dataclasses import replace

from kyc.documents.layout import UNPLACED_CONFIDENCE_FACTOR, FormSpec, extract
from kyc.documents.normalise import cn_date, id_number, period
from kyc.fields import Field, Fields
from kyc.ocr import OcrLine

ID_CARD = FormSpec(
    labels={
        "姓名": "name",
        "性别": "sex",
        "民族": "ethnicity",
        "出生": "birth_date",
        "住址": "address",
        "公民身份号码": "id_number",
        "签发机关": "issuing_authority",
        "有效期限": "validity",
        "中华人民共和国": None,
        "居民身份证": None,
    },
    multiline=frozenset({"address"}),
    sides=(
        frozenset({"姓名", "性别", "民族", "出生", "住址", "公民身份号码"}),
        frozenset({"签发机关", "有效期限", "中华人民共和国", "居民身份证"}),
    ),
)

# Any 18-character run: a number that fails its checks must still be read as
# printed, so that the checks can say so.
_NUMBER_ANYWHERE = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")


def parse_id_card(lines: list[OcrLine]) -> Fields:
    """Fields of whichever sides are in the image: name, sex, ethnicity, birth_date,
    address, id_number (front); issuing_authority, valid_from, valid_until (back)."""
    raw = extract(lines, ID_CARD)
    fields: Fields = {}
    for name in ("name", "ethnicity", "address", "issuing_authority"):
        if name in raw:
            fields[name] = raw[name]
    if "sex" in raw and (sex := re.search("[男女]", raw["sex"].value)):
        fields["sex"] = replace(raw["sex"], value=sex.group())
    if "birth_date" in raw and (born := cn_date(raw["birth_date"].value)):
        fields["birth_date"] = replace(raw["birth_date"], value=born)
    number = raw.get("id_number") or _loose_number(lines)
    if number and (cleaned := id_number(number.value)):
        fields["id_number"] = replace(number, value=cleaned)
    if "validity" in raw and (span := period(raw["validity"].value)):
        fields["valid_from"] = replace(raw["validity"], value=span[0])
        fields["valid_until"] = replace(raw["validity"], value=span[1])
    return fields


def _loose_number(lines: list[OcrLine]) -> Field | None:
    """The number when OCR lost its label: the one 18-character run that fits."""
    for line in lines:
        match = _NUMBER_ANYWHERE.search(re.sub(r"\s+", "", line.text))
        if match:
            return Field(match.group(), line.confidence * UNPLACED_CONFIDENCE_FACTOR)
    return None
