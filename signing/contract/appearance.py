"""Pictures used as signature appearances: the bank's round seal, the applicant's drawn mark."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from signing.errors import MarkInvalid

SEAL_RED = (200, 16, 32, 255)
MAX_MARK_BYTES = 512 * 1024
MAX_MARK_SIDE = 2000
# A mark with fewer inked pixels than this is an accidental tap, not a signature.
MIN_INK_PIXELS = 150


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", size, index=0)


def seal_image(bank_name: str, size: int = 360) -> bytes:
    """A red round seal with the bank's name around the rim and a star in the middle."""
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    margin = 8
    draw.ellipse((margin, margin, size - margin, size - margin), outline=SEAL_RED, width=10)
    centre = size / 2
    star = [
        (
            centre + (50 if i % 2 == 0 else 20) * math.sin(math.pi * i / 5),
            centre - (50 if i % 2 == 0 else 20) * math.cos(math.pi * i / 5),
        )
        for i in range(10)
    ]
    draw.polygon(star, fill=SEAL_RED)
    text = bank_name[:16]
    font = _font(34)
    radius = centre - 52
    span = math.radians(240)
    for index, char in enumerate(text):
        angle = -span / 2 + span * (index + 0.5) / len(text)
        glyph = Image.new("RGBA", (44, 44), (255, 255, 255, 0))
        ImageDraw.Draw(glyph).text((4, 2), char, font=font, fill=SEAL_RED)
        glyph = glyph.rotate(-math.degrees(angle), resample=Image.Resampling.BICUBIC)
        x = centre + radius * math.sin(angle) - 22
        y = centre - radius * math.cos(angle) - 22
        image.alpha_composite(glyph, (int(x), int(y)))
    draw.text((centre, centre + 85), "合同专用章", font=_font(28), fill=SEAL_RED, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def check_mark(png: bytes) -> bytes:
    """The applicant's drawn mark as a clean PNG; refuses anything that is not a real drawing."""
    if len(png) > MAX_MARK_BYTES:
        raise MarkInvalid("the drawn signature is too large")
    try:
        with Image.open(io.BytesIO(png)) as picture:
            if picture.format != "PNG":
                raise MarkInvalid("the drawn signature must be a PNG image")
            if max(picture.size) > MAX_MARK_SIDE or min(picture.size) < 50:
                raise MarkInvalid("the drawn signature has an unexpected size")
            rgba = picture.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise MarkInvalid("the drawn signature is not a readable image") from None
    alpha = np.asarray(rgba.getchannel("A"))
    grey = np.asarray(rgba.convert("L"))
    ink = int(np.count_nonzero((alpha > 128) & (grey < 128)))
    if ink < MIN_INK_PIXELS:
        raise MarkInvalid("draw your signature in the box before signing")
    out = io.BytesIO()
    rgba.save(out, "PNG")  # re-encoded: no metadata or trailing bytes reach the PDF
    return out.getvalue()
