"""The gettext catalogues are complete in both languages and hold exactly the keys
the templates, Python and scripts use, as Babel extracts them (babel.cfg)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from kyc.check_reasons import CHECK_REASONS
from kyc.faces import Decision
from kyc.liveness import Challenge
from kyc.passive import PassiveDecision
from loans.roles import STAFF_ROLES
from loans.states import State
from signing.contracts import ContractStatus
from tests.web_support import Service
from web.i18n import LANGUAGES, catalogue_keys, ntranslate, read_catalogue, translate
from web.page_scripts import SCRIPT_DIR, TEMPLATE_DIR, script_keys

ROOT = Path(__file__).resolve().parent.parent
# The calls that name a key, beyond gettext's own (Makefile, `messages`).
KEYWORDS = {**DEFAULT_KEYWORDS, "translate": (2,), "ntranslate": (2,), "t": None, "tn": None}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# A key built from a value at run time: labelFor("state_", s) in scripts,
# _("state_" ~ s) in templates.
_SCRIPT_FAMILY = re.compile(r"""\blabelFor\(\s*["']([a-z0-9_]+)["']""")
_TEMPLATE_FAMILY = re.compile(r"""\b_\(\s*["']([a-z0-9_]+)["']\s*~""")


def _key(message_id: str | Sequence[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _texts(catalogue: Catalog) -> dict[str, list[str]]:
    return {
        _key(m.id): [m.string] if isinstance(m.string, str) else list(m.string or ())
        for m in catalogue
        if m.id
    }


@pytest.fixture(scope="module")
def catalogues() -> dict[str, Catalog]:
    return {language: read_catalogue(language) for language in LANGUAGES}


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    return {
        _key(message[2])
        for message in extract_from_dir(ROOT, method_map, options_map, keywords=KEYWORDS)
    }


def _families() -> set[str]:
    found: set[str] = set()
    for script in SCRIPT_DIR.glob("*.js"):
        found |= set(_SCRIPT_FAMILY.findall(script.read_text(encoding="utf-8")))
    for template in TEMPLATE_DIR.glob("*.html"):
        found |= set(_TEMPLATE_FAMILY.findall(template.read_text(encoding="utf-8")))
    return found


def test_both_catalogues_hold_the_same_keys_each_translated(
    catalogues: dict[str, Catalog],
) -> None:
    zh, en = (_texts(catalogues[language]) for language in ("zh-CN", "en"))
    assert set(zh) == set(en), set(zh) ^ set(en)
    for language, catalogue in catalogues.items():
        for message in catalogue:
            if not message.id:
                continue
            forms = _texts(catalogue)[_key(message.id)]
            assert all(form.strip() for form in forms), (language, message.id)
            assert not message.fuzzy, (language, message.id)
            if not isinstance(message.id, str):
                assert len(forms) == catalogue.num_plurals, (language, message.id)


def test_both_languages_fill_the_same_placeholders(catalogues: dict[str, Catalog]) -> None:
    zh, en = (_texts(catalogues[language]) for language in ("zh-CN", "en"))
    for key, forms in en.items():
        named = {name for form in forms for name in _PLACEHOLDER.findall(form)}
        assert named == {name for form in zh[key] for name in _PLACEHOLDER.findall(form)}, key


def test_every_key_the_code_names_is_in_the_catalogue(extracted: set[str]) -> None:
    # Single- and double-quoted keys alike (_call.html quotes with ').
    assert {"call_remote", "login_failed", "term_n_months", "not_found"} <= extracted
    assert extracted <= catalogue_keys(), extracted - catalogue_keys()


def test_every_catalogue_key_is_named_by_the_code(extracted: set[str]) -> None:
    families = _families()
    assert families, "scripts and templates build keys from values"
    unused = {key for key in catalogue_keys() - extracted if not key.startswith(tuple(families))}
    assert not unused, unused
    for prefix in families:
        assert any(key.startswith(prefix) for key in catalogue_keys()), prefix


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("state_", list(State)),
        ("role_", sorted(STAFF_ROLES)),
        ("face_", list(Decision)),
        ("passive_", list(PassiveDecision)),
        ("challenge_", list(Challenge)),
        ("contract_status_", list(ContractStatus)),
        ("check_reason_", list(CHECK_REASONS)),
    ],
)
def test_each_value_a_page_shows_has_text(prefix: str, values: list[str]) -> None:
    missing = {str(value) for value in values} - {
        key.removeprefix(prefix) for key in catalogue_keys() if key.startswith(prefix)
    }
    assert not missing, missing


def test_check_texts_name_the_values_the_check_carries(catalogues: dict[str, Catalog]) -> None:
    for language, catalogue in catalogues.items():
        texts = _texts(catalogue)
        for reason, english in CHECK_REASONS.items():
            (text,) = texts[f"check_reason_{reason}"]
            assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(english)), (
                language,
                reason,
            )


def test_plural_rules_are_the_ones_the_scripts_apply(catalogues: dict[str, Catalog]) -> None:
    # web/static/js/common.js chooses forms with these rules; a catalogue that
    # changed its Plural-Forms would need the script changed too.
    assert catalogues["en"].plural_expr == "(n != 1)"
    assert catalogues["zh-CN"].plural_expr == "0"
    common = (SCRIPT_DIR / "common.js").read_text(encoding="utf-8")
    assert 'en: (n) => (n === 1 ? 0 : 1), "zh-CN": () => 0' in common


def test_each_page_gets_only_the_text_its_scripts_read() -> None:
    assert script_keys("login.html") == {"login_failed", "too_many_attempts"}
    assert script_keys("error.html") == frozenset()
    apply = script_keys("apply.html")
    assert {"consent_needed", "liveness_passed", "check_reason_card_expired"} <= apply
    assert "export_ready" not in apply  # the reviewer's script, not the applicant's


def test_plural_forms_follow_the_count() -> None:
    assert ntranslate("en", "term_n_months", 1) == "1 month"
    assert ntranslate("en", "term_n_months", 12) == "12 months"
    assert ntranslate("zh-CN", "term_n_months", 1) == "1 个月"
    assert translate("en", "applicant_welcome", name="Zhang San") == "Hello, Zhang San"
    assert translate("en", "no_such_key") == "no_such_key"


@pytest.mark.parametrize(("language", "welcome"), [("zh-CN", "员工登录"), ("en", "Staff sign-in")])
async def test_a_page_renders_in_the_chosen_language(
    service: Service, language: str, welcome: str
) -> None:
    browser = service.browser()
    page = await browser.request("GET", "/login", headers={"Accept-Language": language})
    assert page.status == 200
    assert f'<html lang="{language}">' in page.text and welcome in page.text
    shipped = re.search(r'<script type="application/json" id="messages">(.*?)</script>', page.text)
    assert shipped is not None and "login_failed" in shipped.group(1)
    assert "contract_signed" not in shipped.group(1)
