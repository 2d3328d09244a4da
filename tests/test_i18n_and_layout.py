"""Text catalogues are complete, and package dependencies point one way."""

import ast
from pathlib import Path

import pytest

from web.i18n import MESSAGES

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "web" / "templates"


def test_both_languages_have_the_same_keys_and_no_empty_text() -> None:
    assert set(MESSAGES["zh-CN"]) == set(MESSAGES["en"])
    for catalogue in MESSAGES.values():
        assert all(text.strip() for text in catalogue.values())


def test_every_literal_key_used_in_templates_exists() -> None:
    import re

    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\("([a-z_]+)"\)""", template.read_text()))
    assert used, "templates use translated text"
    assert used <= set(MESSAGES["en"]), used - set(MESSAGES["en"])


# What each package may import, by the design's dependency order.
# workers/ (bounded process pools) is a leaf like store/: it imports no package.
ALLOWED = {
    "store": set(),
    "workers": set(),
    "audit": {"store"},
    "loans": {"audit", "store"},
    "signing": {"loans", "audit", "store", "workers"},
    "kyc": {"signing", "loans", "audit", "store", "workers"},
    "media": {"kyc", "signing", "loans", "audit", "store", "workers"},
    "web": {"media", "kyc", "signing", "loans", "audit", "store", "workers"},
}


def imported_packages(package: str) -> set[str]:
    found = set()
    for source in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package: str) -> None:
    assert imported_packages(package) - {package} <= ALLOWED[package]
