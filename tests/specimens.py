"""Synthetic PRC ID cards and business licences with known ground truth (test and
benchmark support, outside the service).

Everything printed is random but valid: identity numbers carry a correct GB 11643
check character and agree with the printed birth date and sex; credit codes carry a
correct GB 32100 check character. A real face photo can be pasted as the portrait.
`distort` then applies what phone photos suffer: perspective, blur, glare, noise
and JPEG compression. What the real samples in ../shared/data showed is drawn too:
the vertical 三证合一 licence with letter-spaced labels, both sides of a card on
one scanned page (one upside down), red registration stamps, diagonal "for this
purpose only" watermarks, and grey, pale photocopies (`hard_copy`). None of these
documents belongs to a real person or company.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from kyc import idnumber
from kyc.documents.normalise import LONG_TERM
from kyc.fonts import cjk_font_path
from loans.identifiers import CREDIT_CODE_ALPHABET, credit_code_check_character

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江尹薛段雷侯龙史贺顾毛郝龚邵万钱武戴孔汤"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚英华慧建国文斌鹏辉玲桂芬云飞宇浩然子涵欣怡嘉琪晨阳志红海燕凯"  # noqa: E501
ETHNICITIES = ("汉",) * 8 + ("回", "满", "壮", "苗", "土家")
# (province, city, district, region code)
REGIONS = (
    ("北京市", "", "朝阳区", "110105"),
    ("上海市", "", "浦东新区", "310115"),
    ("广东省", "广州市", "天河区", "440106"),
    ("浙江省", "杭州市", "西湖区", "330106"),
    ("四川省", "成都市", "武侯区", "510107"),
    ("江苏省", "南京市", "鼓楼区", "320106"),
    ("湖北省", "武汉市", "洪山区", "420111"),
    ("福建省", "福州市", "鼓楼区", "350102"),
)
STREETS = ("中山路", "人民大道", "解放路", "建设路", "文化路", "长江路", "和平街", "新华路")
BRANDS = ("云帆", "恒信", "瑞丰", "华宇", "鼎盛", "星河", "远航", "博创", "金桥", "海纳")
INDUSTRIES = ("科技", "贸易", "餐饮管理", "信息技术", "建筑工程", "电子商务", "物流")
COMPANY_TYPES = ("有限责任公司（自然人投资或控股）", "有限责任公司（自然人独资）", "股份有限公司")
CAPITALS = ("伍拾万元整", "壹佰万元整", "伍佰万元整", "壹仟万元整", "叁佰万元整")
SCOPES = (
    "软件开发",
    "信息技术咨询服务",
    "计算机系统服务",
    "日用百货销售",
    "办公用品销售",
    "餐饮管理",
    "货物进出口",
    "技术进出口",
    "广告设计",
    "会议及展览服务",
    "普通货物仓储服务",
)


def _nfkc(fields: dict[str, str]) -> dict[str, str]:
    """Parsers return NFKC text (full-width punctuation folded); so does the truth."""
    return {name: unicodedata.normalize("NFKC", value) for name, value in fields.items()}


@dataclass(frozen=True)
class Identity:
    name: str
    sex: str
    ethnicity: str
    birth_date: date
    address: str
    id_number: str
    issuing_authority: str
    valid_from: date
    valid_until: date | None  # None: long-term (长期)

    def expected_fields(self) -> dict[str, str]:
        """What a perfect read of both sides yields."""
        return _nfkc(
            {
                "name": self.name,
                "sex": self.sex,
                "ethnicity": self.ethnicity,
                "birth_date": self.birth_date.isoformat(),
                "address": self.address,
                "id_number": self.id_number,
                "issuing_authority": self.issuing_authority,
                "valid_from": self.valid_from.isoformat(),
                "valid_until": self.valid_until.isoformat() if self.valid_until else LONG_TERM,
            }
        )


@dataclass(frozen=True)
class Company:
    company_name: str
    credit_code: str
    company_type: str
    legal_representative: str
    registered_capital: str
    established: date
    term_until: date | None  # None: long-term
    address: str
    business_scope: str

    def expected_fields(self) -> dict[str, str]:
        until = self.term_until.isoformat() if self.term_until else LONG_TERM
        return _nfkc(
            {
                "company_name": self.company_name,
                "credit_code": self.credit_code,
                "company_type": self.company_type,
                "legal_representative": self.legal_representative,
                "registered_capital": self.registered_capital,
                "established": self.established.isoformat(),
                "business_term": f"{self.established.isoformat()}/{until}",
                "address": self.address,
                "business_scope": self.business_scope,
            }
        )


def _add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _address(rng: random.Random, region: tuple[str, str, str, str]) -> str:
    province, city, district, _code = region
    building = (
        f"{rng.randint(1, 30)}栋{rng.randint(1, 3)}单元{rng.randint(1, 30)}0{rng.randint(1, 4)}室"
    )
    return f"{province}{city}{district}{rng.choice(STREETS)}{rng.randint(1, 999)}号{building}"


def random_identity(rng: random.Random, *, today: date) -> Identity:
    region = rng.choice(REGIONS)
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    born = date(1950, 1, 1) + timedelta(
        days=rng.randrange(0, (date(2004, 12, 31) - date(1950, 1, 1)).days)
    )
    sex = rng.choice(("男", "女"))
    sequence = rng.randrange(0, 100) * 10 + rng.choice(
        (1, 3, 5, 7, 9) if sex == "男" else (0, 2, 4, 6, 8)
    )
    first17 = f"{region[3]}{born:%Y%m%d}{sequence:03d}"
    number = first17 + idnumber.check_character(first17)
    # Validity by age at issue (5, 10, 20 years or long-term); the card is current.
    age = (today - born).days // 365
    years = 5 if age < 26 else 10 if age < 36 else 20 if age < 46 else 0
    issued = today - timedelta(days=rng.randrange(30, max(31, years * 365 - 30 if years else 3650)))
    until = _add_years(issued, years) if years else None
    city = region[1] or region[0]
    return Identity(
        name=name,
        sex=sex,
        ethnicity=rng.choice(ETHNICITIES),
        birth_date=born,
        address=_address(rng, region),
        id_number=number,
        issuing_authority=f"{city}公安局{region[2]}分局",
        valid_from=issued,
        valid_until=until,
    )


def random_credit_code(rng: random.Random, region_code: str) -> str:
    first17 = "91" + region_code + "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(9))
    return first17 + credit_code_check_character(first17)


def random_company(rng: random.Random, legal_representative: str, *, today: date) -> Company:
    region = rng.choice(REGIONS)
    city = (region[1] or region[0]).removesuffix("市")
    established = today - timedelta(days=rng.randrange(200, 7000))
    long_term = rng.random() < 0.6
    scope = "；".join(rng.sample(SCOPES, rng.randint(3, 6))) + "。"
    return Company(
        company_name=f"{city}{rng.choice(BRANDS)}{rng.choice(INDUSTRIES)}有限公司",
        credit_code=random_credit_code(rng, region[3]),
        company_type=rng.choice(COMPANY_TYPES),
        legal_representative=legal_representative,
        registered_capital=rng.choice(CAPITALS),
        established=established,
        term_until=None if long_term else _add_years(established, 30) - timedelta(days=1),
        address=_address(rng, region),
        business_scope=scope,
    )


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font_path()), size)


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def _to_bgr(image: Image.Image) -> np.ndarray[Any, Any]:
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


LABEL = (70, 110, 160)
INK = (20, 20, 20)
CARD = (1012, 638)


def draw_id_front(
    person: Identity, portrait: np.ndarray[Any, Any] | None = None
) -> np.ndarray[Any, Any]:
    image = Image.new("RGB", CARD, (236, 242, 246))
    pen = ImageDraw.Draw(image)
    label, value = _font(28), _font(32)
    pen.text((60, 60), "姓名", font=label, fill=LABEL)
    pen.text((160, 56), person.name, font=value, fill=INK)
    pen.text((60, 130), "性别", font=label, fill=LABEL)
    pen.text((160, 126), person.sex, font=value, fill=INK)
    pen.text((280, 130), "民族", font=label, fill=LABEL)
    pen.text((380, 126), person.ethnicity, font=value, fill=INK)
    pen.text((60, 200), "出生", font=label, fill=LABEL)
    born = f"{person.birth_date.year}年{person.birth_date.month}月{person.birth_date.day}日"
    pen.text((160, 196), born, font=value, fill=INK)
    pen.text((60, 270), "住址", font=label, fill=LABEL)
    for i, part in enumerate(_wrap(person.address, 12)):
        pen.text((160, 266 + 46 * i), part, font=value, fill=INK)
    pen.text((60, 520), "公民身份号码", font=label, fill=LABEL)
    pen.text((300, 514), person.id_number, font=_font(38), fill=INK)
    box = (700, 80, 960, 400)
    if portrait is not None:
        face = Image.fromarray(cv2.cvtColor(portrait, cv2.COLOR_BGR2RGB))
        # Centre-crop to the box's proportions so the face is not stretched.
        size = (box[2] - box[0], box[3] - box[1])
        image.paste(ImageOps.fit(face, size, method=Image.Resampling.LANCZOS), box[:2])
    else:
        pen.ellipse((760, 120, 900, 280), fill=(150, 160, 170))
        pen.ellipse((720, 270, 940, 460), fill=(150, 160, 170))
    return _to_bgr(image)


def draw_id_back(person: Identity) -> np.ndarray[Any, Any]:
    image = Image.new("RGB", CARD, (236, 242, 246))
    pen = ImageDraw.Draw(image)
    pen.text((300, 90), "中华人民共和国", font=_font(52), fill=INK)
    pen.text((330, 170), "居民身份证", font=_font(60), fill=INK)
    pen.text((180, 420), "签发机关", font=_font(28), fill=LABEL)
    pen.text((330, 416), person.issuing_authority, font=_font(32), fill=INK)
    pen.text((180, 490), "有效期限", font=_font(28), fill=LABEL)
    until = person.valid_until.strftime("%Y.%m.%d") if person.valid_until else "长期"
    pen.text((330, 486), f"{person.valid_from:%Y.%m.%d}-{until}", font=_font(32), fill=INK)
    return _to_bgr(image)


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def draw_licence(company: Company, *, vertical: bool = False) -> np.ndarray[Any, Any]:
    """The 2016 unified licence: the horizontal layout (code top left, two
    columns), or the vertical one (code under the title, one column, the short
    labels letter-spaced as printed: 名　　称)."""
    if vertical:
        return _draw_vertical_licence(company)
    image = Image.new("RGB", (1600, 1130), (252, 250, 244))
    pen = ImageDraw.Draw(image)
    label, value = _font(30), _font(30)
    pen.text((90, 70), "统一社会信用代码", font=label, fill=INK)
    pen.text((90, 112), company.credit_code, font=_font(34), fill=INK)
    pen.text((640, 170), "营业执照", font=_font(96), fill=(170, 30, 30))
    left = [
        ("名称", [company.company_name]),
        ("类型", [company.company_type]),
        ("法定代表人", [company.legal_representative]),
        ("经营范围", _wrap(company.business_scope, 15)),
    ]
    until = _cn_date(company.term_until) if company.term_until else "长期"
    started = _cn_date(company.established)
    right = [
        ("注册资本", [company.registered_capital]),
        ("成立日期", [started]),
        ("营业期限", [f"{started}至{until}"]),
        ("住所", _wrap(company.address, 13)),
    ]
    for column_x, rows in ((90, left), (850, right)):
        y = 360
        for caption, lines in rows:
            pen.text((column_x, y), caption, font=label, fill=INK)
            for i, text in enumerate(lines):
                pen.text((column_x + 190, y + 48 * i), text, font=value, fill=INK)
            y += 48 * len(lines) + 40
    pen.text((1000, 960), "登记机关", font=label, fill=INK)
    return _to_bgr(image)


def _draw_vertical_licence(company: Company) -> np.ndarray[Any, Any]:
    image = Image.new("RGB", (1130, 1600), (252, 250, 244))
    pen = ImageDraw.Draw(image)
    label, value = _font(30), _font(30)
    pen.text((330, 150), "营业执照", font=_font(110), fill=(170, 30, 30))
    pen.text((300, 330), f"统一社会信用代码  {company.credit_code}", font=label, fill=INK)
    until = _cn_date(company.term_until) if company.term_until else "长期"
    started = _cn_date(company.established)
    rows = [
        ("名称", [company.company_name]),
        ("类型", [company.company_type]),
        ("住所", _wrap(company.address, 22)),
        ("法定代表人", [company.legal_representative]),
        ("注册资本", [company.registered_capital]),
        ("成立日期", [started]),
        ("营业期限", [f"{started}至{until}"]),
        ("经营范围", _wrap(company.business_scope, 22)),
    ]
    y = 460
    for caption, lines in rows:
        # Two-glyph labels are spread over the width of a five-glyph one.
        spread = [(caption[0], 120), (caption[1], 240)] if len(caption) == 2 else [(caption, 120)]
        for glyphs, x in spread:
            pen.text((x, y), glyphs, font=label, fill=INK)
        for i, text in enumerate(lines):
            pen.text((330, y + 48 * i), text, font=value, fill=INK)
        y += 48 * len(lines) + 36
    pen.text((640, 1400), "登记机关", font=label, fill=INK)
    return _to_bgr(image)


def draw_id_page(person: Identity, *, upside_down: str | None = None) -> np.ndarray[Any, Any]:
    """Both sides of the card on one grey page, front above back, as scanned for
    a photocopy; `upside_down` ("front" or "back") turns that side over."""
    front, back = draw_id_front(person), draw_id_back(person)
    if upside_down == "front":
        front = cv2.rotate(front, cv2.ROTATE_180)
    elif upside_down == "back":
        back = cv2.rotate(back, cv2.ROTATE_180)
    height, width = front.shape[:2]
    page = np.full((2 * height + 240, width + 160, 3), 215, np.uint8)
    page[80 : 80 + height, 80 : 80 + width] = front
    page[160 + height : 160 + 2 * height, 80 : 80 + width] = back
    return page


def stamp(image: np.ndarray[Any, Any], rng: random.Random) -> np.ndarray[Any, Any]:
    """A red round registration stamp pressed somewhere over the lower half."""
    height, width = image.shape[:2]
    radius = int(0.09 * max(height, width))
    centre = (rng.randint(radius, width - radius), rng.randint(height // 2, height - radius))
    layer = image.copy()
    cv2.circle(layer, centre, radius, (40, 40, 200), max(3, radius // 14))
    star = np.array(
        [
            (
                centre[0] + (radius / 3 if k % 2 == 0 else radius / 7) * np.sin(k * np.pi / 5),
                centre[1] - (radius / 3 if k % 2 == 0 else radius / 7) * np.cos(k * np.pi / 5),
            )
            for k in range(10)
        ],
        np.int32,
    )
    cv2.fillPoly(layer, [star], (40, 40, 200))
    return cv2.addWeighted(layer, 0.65, image, 0.35, 0)


def watermark(
    image: np.ndarray[Any, Any], rng: random.Random, text: str = "仅供办理贷款业务使用 他用无效"
) -> np.ndarray[Any, Any]:
    """Diagonal lines of pale text across the whole document, as applicants put on
    copies they hand over."""
    height, width = image.shape[:2]
    size = int(0.045 * max(height, width))
    side = int(np.hypot(height, width))
    sheet = Image.new("L", (side, side), 0)
    pen = ImageDraw.Draw(sheet)
    for row in range(0, side, 4 * size):
        pen.text((rng.randint(0, size), row), (text + "  ") * 4, font=_font(size), fill=255)
    turned = sheet.rotate(rng.choice((30, 35, -30, -35)), resample=Image.Resampling.BILINEAR)
    left, top = (side - width) // 2, (side - height) // 2
    alpha = np.asarray(turned, np.float32)[top : top + height, left : left + width, None] / 255
    # Grey on paper or white on a card's tinted ground, as the real copies show.
    tint = np.full(3, 120.0 if rng.random() < 0.5 else 255.0, np.float32)
    blended = image * (1 - 0.4 * alpha) + tint * 0.4 * alpha
    return blended.astype(np.uint8)


def hard_copy(image: np.ndarray[Any, Any], rng: random.Random) -> np.ndarray[Any, Any]:
    """A grey photocopy: no colour, washed out, slightly turned, a little soft."""
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    pale = (grey.astype(np.float32) * rng.uniform(0.45, 0.6) + rng.uniform(100, 130)).clip(0, 255)
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-2.0, 2.0), 1.0)
    turned = cv2.warpAffine(
        pale.astype(np.uint8), turn, (width, height), borderValue=(235, 235, 235)
    )
    return cv2.GaussianBlur(turned, (0, 0), rng.uniform(0.5, 1.0))


def distort(image: np.ndarray[Any, Any], rng: random.Random) -> np.ndarray[Any, Any]:
    """A phone photo of the document: on a table, slightly turned and tilted, a
    little out of focus, with a glare spot, sensor noise and JPEG compression."""
    height, width = image.shape[:2]
    margin = int(0.08 * max(width, height))
    canvas = np.full((height + 2 * margin, width + 2 * margin, 3), (70, 60, 55), np.uint8)
    corners = [(0, 0), (width, 0), (width, height), (0, height)]
    jitter = 0.035 * min(width, height)
    src = np.array(corners, dtype=np.float32)
    dst = np.array(
        [
            (x + margin + rng.uniform(-jitter, jitter), y + margin + rng.uniform(-jitter, jitter))
            for x, y in corners
        ],
        dtype=np.float32,
    )
    warp = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(
        image, warp, canvas.shape[1::-1], dst=canvas, borderMode=cv2.BORDER_TRANSPARENT
    )
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.1))
    gy, gx = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
    cx, cy = rng.uniform(0, out.shape[1]), rng.uniform(0, out.shape[0])
    radius = rng.uniform(0.1, 0.25) * out.shape[1]
    glare = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * radius**2)) * rng.uniform(40, 90)
    noisy = (
        out.astype(np.float32)
        + glare[..., None]
        + np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(2, 6), out.shape)
    )
    out = np.clip(noisy, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(55, 85)])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise RuntimeError("OpenCV failed to round-trip a JPEG it encoded")
    return decoded
