"""The label/value parser on hand-made OCR lines: merged and split labels, values
on following rows, two columns whose continuation lines interleave."""

from kyc.documents.id_card import parse_id_card
from kyc.documents.licence import parse_licence
from kyc.fields import Fields
from kyc.ocr import OcrLine, lines_from_detections, reading_order


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


def test_letter_spaced_labels_are_joined_back() -> None:
    # 名　　称 and 住　　所 as printed: OCR returns the first glyph on its own.
    lines = reading_order(
        [
            line("名", 90, 100, 30),
            line("称福州星河科技有限公司", 200, 102, 400),
            line("住", 90, 160, 30),
            line("所福建省福州市鼓楼区", 200, 158, 400),
        ]
    )
    assert values(parse_licence(lines)) == {
        "company_name": "福州星河科技有限公司",
        "address": "福建省福州市鼓楼区",
    }


def test_a_value_printed_a_little_higher_than_its_label_stays_on_its_row() -> None:
    # Centres 14 px apart, spans overlapping by most of a line: one row.
    lines = reading_order(
        [line("青岛星河研究所(普通合伙)", 300, 86, 400), line("名称", 90, 100, 60)]
    )
    assert [item.text for item in lines] == ["名称", "青岛星河研究所(普通合伙)"]
    assert values(parse_licence(lines)) == {"company_name": "青岛星河研究所(普通合伙)"}


def test_a_misread_label_is_recognised_only_where_labels_stand() -> None:
    card = [
        line("姓名王小明", 50, 50, 300),
        line("出生1990年1月2日", 50, 120, 300),
        line("佳址北京市朝阳区建设路", 50, 190, 400),  # 住址 as PP-OCR often reads it
    ]
    assert values(parse_id_card(card))["address"] == "北京市朝阳区建设路"
    # Not at the labels' left edge: ordinary text, even if it starts the same way.
    elsewhere = [*card[:2], line("佳址北京市朝阳区建设路", 400, 190, 400)]
    assert "address" not in parse_id_card(elsewhere)
    # Not when the document shows the real label elsewhere.
    both = [*card, line("住址", 50, 300, 60), line("上海市", 160, 300)]
    assert values(parse_id_card(both))["address"] == "上海市"


def test_a_spaced_label_with_one_glyph_lost_is_still_a_label() -> None:
    # 名　　称 and 住　　所 with 称 and 住 under a watermark: the glyph left alone
    # in the label column still opens its field.
    lines = reading_order(
        [
            line("统一社会信用代码91350100M000100Y43", 120, 40, 500),
            line("名", 120, 100, 30),
            line("福州星河科技有限公司", 330, 100, 400),
            line("所", 240, 160, 30),
            line("福建省福州市鼓楼区", 330, 160, 400),
            line("法定代表人张三", 120, 220, 300),
        ]
    )
    assert values(parse_licence(lines)) == {
        "credit_code": "91350100M000100Y43",
        "company_name": "福州星河科技有限公司",
        "address": "福建省福州市鼓楼区",
        "legal_representative": "张三",
    }


def test_text_far_along_a_row_is_not_a_value() -> None:
    # The QR code's caption sits on the credit code label's row, across the page.
    lines = reading_order(
        [
            line("统一社会信用代码", 90, 70, 240),
            line("扫描二维码登录", 1400, 66, 120),
            line("91350100M000100Y43", 90, 112, 300),
        ]
    )
    assert values(parse_licence(lines)) == {"credit_code": "91350100M000100Y43"}


def test_identifiers_are_found_by_pattern_when_their_label_is_lost() -> None:
    lines = [
        line("营业执照", 300, 40, 300),
        line("91350100M000100Y43(1-1)", 90, 112, 300),
        line("注册号 310105000425516", 700, 112, 300),
    ]
    fields = parse_licence(lines)
    assert fields["credit_code"].value == "91350100M000100Y43"
    assert fields["credit_code"].confidence < 0.99  # not placed by its label
    assert fields["registration_number"].value == "310105000425516"
    assert fields["registration_number"].label == "注册号"
    # Eighteen characters whose check character fails are not taken for a code.
    assert "credit_code" not in parse_licence([line("91350100M000100Y44", 90, 112, 300)])


def test_each_layout_says_which_representative_it_printed() -> None:
    individual = [
        line("名称泊头市星河压瓦机厂", 90, 100, 400),
        line("类型个体工商户", 90, 160, 300),
        line("经营者田某", 90, 220, 300),
        line("组成形式个人经营", 500, 220, 300),
        line("注册日期二〇一六年五月十日", 90, 280, 400),
    ]
    fields = parse_licence(individual)
    assert values(fields) == {
        "company_name": "泊头市星河压瓦机厂",
        "company_type": "个体工商户",
        "legal_representative": "田某",
        "composition_form": "个人经营",
        "established": "2016-05-10",
    }
    assert fields["legal_representative"].label == "经营者"
    partnership = [line("执行事务合伙人戴某", 90, 100, 300)]
    assert parse_licence(partnership)["legal_representative"].label == "执行事务合伙人"


def test_an_id_number_that_fails_its_checks_is_still_read_as_printed() -> None:
    lines = [
        line("姓名王小明", 50, 50, 300),
        line("公民号街证号码000003165405049842", 50, 500, 500),
    ]
    assert values(parse_id_card(lines))["id_number"] == "000003165405049842"


def _detection(
    text: str, left: float, top: float, glyph: float, gap: int | None = None, tilt: float = 0.0
) -> list[object]:
    """A RapidOCR detection of `text` laid out left to right, one glyph box per
    character, optionally with a wider gap before character `gap` and a slope of
    `tilt` px per px."""
    boxes, x = [], left
    for i, _char in enumerate(text):
        if i == gap:
            x += 4 * glyph
        y = top + tilt * (x - left)
        boxes.append(
            [[x, y], [x + glyph, y + tilt * glyph], [x + glyph, y + glyph], [x, y + glyph]]
        )
        x += glyph * 1.1
    corners = [boxes[0][0], boxes[-1][1], boxes[-1][2], boxes[0][3]]
    return [corners, text, 0.97, boxes, list(text), [0.97] * len(text)]


def test_detections_are_levelled_cut_at_column_gaps_and_unstacked() -> None:
    tilted = [
        _detection("经营范围机械设备销售", 100, 100, 30, tilt=0.05),
        _detection("注册资本叁佰万元整", 100, 200, 30, tilt=0.05),
    ]
    levelled = lines_from_detections(tilted)
    assert all(item.height < 40 for item in levelled)  # 30 px glyphs, slope removed
    # Two columns the detector joined: scope on the left, address on the right.
    joined = lines_from_detections([_detection("品、金属材料交叉口南120米", 100, 100, 30, gap=6)])
    assert [item.text for item in joined] == ["品、金属材料", "交叉口南120米"]
    # 名, 类, 住 of three letter-spaced labels read as one vertical box.
    glyphs = [[[100, y], [130, y], [130, y + 30], [100, y + 30]] for y in (100, 160, 220)]
    stacked = [
        [[100, 100], [130, 100], [130, 250], [100, 250]],
        "名类住",
        0.99,
        glyphs,
        ["名", "类", "住"],
        [0.99] * 3,
    ]
    assert [(item.text, item.top) for item in lines_from_detections([stacked])] == [
        ("名", 100),
        ("类", 160),
        ("住", 220),
    ]
    # A long line at a slant to the rest is a watermark laid across the page.
    level = _detection("经营范围机械设备销售", 100, 100, 30)
    diagonal = _detection("仅供办理贷款业务使用他用无效", 100, 300, 30, tilt=0.6)
    assert [item.text for item in lines_from_detections([level, diagonal])] == [
        "经营范围机械设备销售"
    ]
    # Without glyph boxes a detection is one line, as before.
    assert [item.text for item in lines_from_detections([[glyphs[0], "名称", 0.9]])] == ["名称"]


def test_a_continuation_row_goes_to_the_column_it_continues() -> None:
    # The scope's second line ends close enough to the address column for the
    # address's second line to be within a row's reach of it: the address's
    # column still takes it, as no label stands on this row.
    lines = reading_order(
        [
            line("经营范围", 87, 647, 127),
            line("技术进出口;信息技术咨询服务;", 280, 650, 443),
            line("住所", 760, 646, 68),
            line("北京市朝阳区文化路430号", 940, 649, 354),
            line("办公用品销售;日用百货销售;软", 283, 700, 447),
            line("2栋2单元2603室", 945, 697, 228),
        ]
    )
    fields = values(parse_licence(lines))
    assert fields["address"] == "北京市朝阳区文化路430号2栋2单元2603室"
    assert fields["business_scope"] == "技术进出口;信息技术咨询服务;办公用品销售;日用百货销售;软"
