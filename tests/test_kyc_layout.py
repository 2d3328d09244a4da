"""The label/value parser on hand-made OCR lines: merged and split labels, values
on following rows, two columns whose continuation lines interleave."""

from kyc.documents.id_card import parse_id_card
from kyc.documents.licence import parse_licence
from kyc.fields import Fields
from kyc.ocr import OcrLine, reading_order


def line(text: str, left: float, top: float, width: float = 200, conf: float = 0.99) -> OcrLine:
    return OcrLine(text, conf, left, top, left + width, top + 30)


def values(fields: Fields) -> dict[str, str]:
    return {name: field.value for name, field in fields.items()}


def test_id_front_with_merged_and_split_labels() -> None:
    lines = reading_order(
        [
            line("姓 名", 50, 50, 80),
            line("王小明", 160, 52, conf=0.91),
            line("性别男民族汉", 50, 120, 300),
            line("出生 1990年1月2日", 50, 190, 300),
            line("住址北京市朝阳区建设路", 50, 260, 400),
            line("12号3栋", 160, 300),
            line("公民身份号码", 50, 500),
            line("11010519491231002x", 300, 502, 300),
        ]
    )
    fields = parse_id_card(lines)
    assert values(fields) == {
        "name": "王小明",
        "sex": "男",
        "ethnicity": "汉",
        "birth_date": "1990-01-02",
        "address": "北京市朝阳区建设路12号3栋",
        "id_number": "11010519491231002X",
    }
    assert fields["name"].confidence == 0.91


def test_id_back_long_term() -> None:
    lines = [
        line("中华人民共和国", 300, 60),
        line("居民身份证", 330, 140),
        line("签发机关 北京市公安局朝阳分局", 180, 400, 500),
        line("有效期限 2010.01.01-长期", 180, 470, 500),
    ]
    assert values(parse_id_card(lines)) == {
        "issuing_authority": "北京市公安局朝阳分局",
        "valid_from": "2010-01-01",
        "valid_until": "long-term",
    }


def test_titles_after_a_field_do_not_join_it() -> None:
    lines = [
        line("公民身份号码", 50, 500),
        line("11010519491231002X", 300, 500),
        line("中华人民共和国", 300, 560),
        line("居民身份证", 300, 600),
    ]
    assert values(parse_id_card(lines)) == {"id_number": "11010519491231002X"}


def test_number_without_its_label_is_still_found() -> None:
    lines = [line("姓名 王小明", 50, 50), line("11010519491231002X", 300, 500)]
    assert values(parse_id_card(lines))["id_number"] == "11010519491231002X"


def test_two_column_licence_with_interleaved_continuations() -> None:
    lines = reading_order(
        [
            line("统一社会信用代码", 90, 70),
            line("91350100M000100Y43", 90, 112, 300),
            line("营业执照", 640, 170, 400),
            line("名称", 90, 360, 60),
            line("福州星河科技有限公司", 280, 360, 400),
            line("注册资本", 850, 360, 120),
            line("壹佰万元整", 1040, 360),
            line("类型", 90, 430, 60),
            line("有限责任公司（自然人独资）", 280, 430, 400),
            line("成立日期", 850, 430, 120),
            line("2015年03月12日", 1040, 430),
            line("法定代表人张三", 90, 500, 300),
            line("营业期限", 850, 500, 120),
            line("2015年03月12日至长期", 1040, 500),
            line("经营范围", 90, 570, 120),
            line("软件开发；广告设计；", 280, 570, 400),
            line("住所", 850, 570, 60),
            line("福建省福州市鼓楼区", 1040, 570),
            line("会议及展览服务。", 280, 618, 400),
            line("中山路8号1栋", 1040, 618),
            line("登记机关", 1000, 960),
        ]
    )
    assert values(parse_licence(lines)) == {
        "credit_code": "91350100M000100Y43",
        "company_name": "福州星河科技有限公司",
        "registered_capital": "壹佰万元整",
        "company_type": "有限责任公司(自然人独资)",
        "established": "2015-03-12",
        "legal_representative": "张三",
        "business_term": "2015-03-12/long-term",
        "business_scope": "软件开发;广告设计;会议及展览服务。",
        "address": "福建省福州市鼓楼区中山路8号1栋",
    }


def test_no_lines_no_fields() -> None:
    assert parse_id_card([]) == {}
    assert parse_licence([line("随便什么文字", 10, 10)]) == {}
