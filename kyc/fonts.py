"""Finding a CJK font from Debian's packages (fonts-wqy-zenhei, fonts-noto-cjk)."""

from __future__ import annotations

from pathlib import Path

from kyc.errors import NoCjkFont

CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)


def cjk_font_path() -> Path:
    for path in CANDIDATES:
        if path.is_file():
            return path
    raise NoCjkFont(
        "no CJK font found; install Debian's fonts-wqy-zenhei (make setup does, as root)"
    )
