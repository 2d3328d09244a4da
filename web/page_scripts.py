"""Which catalogue keys a page's scripts read, so each page ships only those.

A page's scripts are the ``/static/js/*.js`` modules its template (and the ones it
extends or includes) loads, with the modules they import. A script names its text
as ``t("key")`` or ``tn("key", n)``, or a family as ``labelFor("prefix_", value)``,
which ships every key starting with the prefix.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from web.i18n import catalogue_keys

TEMPLATE_DIR = Path(__file__).parent / "templates"
SCRIPT_DIR = Path(__file__).parent / "static" / "js"

_SCRIPT_TAG = re.compile(r"""<script[^>]*\ssrc=["']/static/js/([\w.-]+\.js)["']""")
_TEMPLATE_REFERENCE = re.compile(r"""{%-?\s*(?:extends|include|import|from)\s+["']([\w./-]+)["']""")
_MODULE_IMPORT = re.compile(r"""^\s*import\b[^;]*?from\s+["']\./([\w.-]+\.js)["']""", re.M)
_KEY_CALL = re.compile(r"""\b(?:t|tn)\(\s*["']([a-z0-9_]+)["']""")
_FAMILY_CALL = re.compile(r"""\blabelFor\(\s*["']([a-z0-9_]+)["']""")


def _scripts_of_template(name: str, seen: set[str]) -> set[str]:
    if name in seen:
        return set()
    seen.add(name)
    source = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
    scripts = set(_SCRIPT_TAG.findall(source))
    for referenced in _TEMPLATE_REFERENCE.findall(source):
        scripts |= _scripts_of_template(referenced, seen)
    return scripts


def _with_imports(scripts: set[str]) -> set[str]:
    pending, found = list(scripts), set[str]()
    while pending:
        script = pending.pop()
        if script in found:
            continue
        found.add(script)
        pending.extend(_MODULE_IMPORT.findall((SCRIPT_DIR / script).read_text(encoding="utf-8")))
    return found


def keys_in_script(source: str) -> tuple[set[str], set[str]]:
    """The keys a script names literally, and the family prefixes it names."""
    return set(_KEY_CALL.findall(source)), set(_FAMILY_CALL.findall(source))


@functools.cache
def script_keys(template: str) -> frozenset[str]:
    """Every catalogue key the scripts of `template`'s page may read."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for script in _with_imports(_scripts_of_template(template, set())):
        literal, families = keys_in_script((SCRIPT_DIR / script).read_text(encoding="utf-8"))
        keys |= literal
        prefixes |= families
    known = catalogue_keys()
    keys |= {key for key in known if key.startswith(tuple(prefixes))} if prefixes else set()
    return frozenset(keys & known)
