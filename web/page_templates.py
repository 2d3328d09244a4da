"""The page templates: one Jinja environment per language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from web.i18n import DEFAULT_LANGUAGE, LANGUAGES, ntranslate, translate
from web.page_scripts import TEMPLATE_DIR


class Pages:
    """The page templates, one Jinja environment per language with that language's
    catalogue installed as gettext (jinja2.ext.i18n), so Babel extracts _("key")
    and ngettext(...) from the templates."""

    def __init__(self, display_timezone: str) -> None:
        self._environments = {
            language: _environment(language, display_timezone) for language in LANGUAGES
        }

    def environment(self, language: str) -> Environment:
        return self._environments.get(language, self._environments[DEFAULT_LANGUAGE])


def _environment(language: str, display_timezone: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )

    def gettext(key: str, **values: str | int) -> str:
        return translate(language, key, **values)

    def ngettext(key: str, _plural_key: str, n: int, **values: str | int) -> str:
        return ntranslate(language, key, n, **values)

    # Old-style callables: the texts use {name} placeholders, filled by translate(),
    # not jinja's %-formatting; the result is still autoescaped on output.
    env.install_gettext_callables(gettext, ngettext, newstyle=False)  # type: ignore[attr-defined]
    zone = ZoneInfo(display_timezone)

    def localtime(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else ""

    def money(amount: str) -> str:
        return f"{Decimal(amount):,.2f}"

    env.filters["localtime"] = localtime
    env.filters["money"] = money
    # Pages' scripts format times in the same zone as the server-rendered ones.
    env.globals["display_timezone"] = display_timezone
    return env
