"""Amounts in Chinese capital numerals (大写金额), as banks write them on contracts.

Follows the PBOC payment-settlement rules: 整 after 元 or 角 when there are no 分,
one 零 for a run of zeros inside the number, 零 between 元 and 分 when 角 is zero.
"""

from __future__ import annotations

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def _integer(value: int) -> str:
    digits = str(value)
    length = len(digits)
    out: list[str] = []
    pending_zero = False
    for index, char in enumerate(digits):
        power = length - 1 - index
        digit = int(char)
        if digit == 0:
            pending_zero = True
        else:
            if pending_zero:
                out.append("零")
                pending_zero = False
            out.append(DIGITS[digit] + _UNITS[power % 4])
        if power % 4 == 0 and power > 0 and int(digits[max(0, index - 3) : index + 1]):
            out.append(_SECTIONS[power // 4])
    return "".join(out)


def capital_amount(amount_fen: int) -> str:
    """壹拾伍万元整 for 15000000 fen. Negative amounts are refused."""
    if amount_fen < 0:
        raise ValueError("amount must not be negative")
    if amount_fen >= 10**16 * 100:
        raise ValueError("amount too large")
    if amount_fen == 0:
        return "零元整"
    yuan, rest = divmod(amount_fen, 100)
    jiao, fen = divmod(rest, 10)
    text = _integer(yuan) + "元" if yuan else ""
    if jiao:
        text += DIGITS[jiao] + "角"
    elif fen and yuan:
        text += "零"
    return text + (DIGITS[fen] + "分" if fen else "整")
