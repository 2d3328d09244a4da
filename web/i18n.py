"""zh-CN and English text for the pages, from the gettext catalogues in web/locale.

Message ids are symbolic keys (``login_failed``), not English sentences: English is
a translation like Chinese, so both catalogues must be complete and a change of
English wording does not orphan the Chinese text (docs/adr/0005-gettext-keys.md).
Placeholders are ``{name}`` (python-brace-format), shared with the pages' scripts.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from aiohttp import web
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "signroom_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

# The catalogues' directory names: gettext spells the region with an underscore.
_LOCALES = {"zh-CN": "zh_CN", "en": "en"}

# Script text for one key: a string, or its plural forms in the catalogue's order.
ScriptText = str | list[str]


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / _LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(language: str) -> Catalog:
    with catalogue_path(language).open("rb") as source:
        return read_po(source, locale=_LOCALES[language], domain=DOMAIN)


@functools.cache
def _translations(language: str) -> gettext.GNUTranslations:
    # Compiled in memory from the .po at first use: no .mo file to forget to rebuild.
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(language))
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _format(text: str, values: dict[str, str | int]) -> str:
    return text.format(**values) if values else text


def translate(language: str, key: str, **values: str | int) -> str:
    """The text for `key`, or `key` itself where the catalogue lacks it."""
    return _format(_translations(_known(language)).gettext(key), values)


def ntranslate(language: str, key: str, n: int, **values: str | int) -> str:
    """The plural form of `key` for `n`; `n` is also offered to the text as {n}."""
    text = _translations(_known(language)).ngettext(key, key, n)
    return _format(text, {"n": n, **values})


def script_text(language: str, keys: Iterable[str]) -> dict[str, ScriptText]:
    """The texts a page's scripts read, plural entries as lists of their forms."""
    entries = {
        _message_id(message.id): message.string
        for message in _catalogue(_known(language))
        if message.id
    }
    out: dict[str, ScriptText] = {}
    for key in keys:
        text = entries.get(key)
        if isinstance(text, str):
            out[key] = text
        elif text is not None:
            out[key] = list(text)
    return out


@functools.cache
def _catalogue(language: str) -> Catalog:
    return read_catalogue(language)


def catalogue_keys() -> frozenset[str]:
    """The message ids of the default catalogue (the test keeps both the same)."""
    return frozenset(
        _message_id(message.id) for message in _catalogue(DEFAULT_LANGUAGE) if message.id
    )


def _message_id(message_id: str | Sequence[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _known(language: str) -> str:
    return language if language in _LOCALES else DEFAULT_LANGUAGE


def pick_language(request: web.Request) -> str:
    """The cookie's choice, else the best match in Accept-Language, else zh-CN."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("Accept-Language", "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((quality, tag.strip().lower()))
    for _quality, tag in sorted(ranked, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
