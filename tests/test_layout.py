"""Package dependencies point one way, and web/ stays the HTTP side."""

import ast
import importlib
import re
import subprocess
import sys
from enum import StrEnum
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# What each package may import, by the design's dependency order (docs/architecture.md).
# errors/ (the one base class of domain errors) is below everything and imports
# nothing. store/ and workers/ (bounded process pools) are leaves above it;
# media/ is one too: the call's audit actions are its own names, its events go
# out through a Protocol.
DOMAIN = ("errors", "workers", "store", "audit", "loans", "signing", "kyc", "media")
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "store": {"errors"},
    "workers": {"errors"},
    "media": {"errors"},
    "audit": {"errors", "store"},
    "loans": {"errors", "audit", "store"},
    "signing": {"errors", "loans", "audit", "store", "workers"},
    "kyc": {"errors", "signing", "loans", "audit", "store", "workers"},
    "integration": {"errors", "media", "kyc", "signing", "loans", "audit", "store"},
    "compliance": set(DOMAIN),
    # Several nodes: the registry, the bus, placement; the database and the call's
    # data types below it, no feature package.
    "cluster": {"errors", "store", "audit", "media"},
    # Identity checks as jobs for `signroom worker`s: the checks themselves below.
    "jobs": {"errors", "store", "workers", "kyc", "signing", "loans", "audit"},
    "interview": {*DOMAIN, "compliance", "integration", "cluster", "live_identity"},
    # Identity judged on the media the server receives: kyc's checks on media's
    # calls and frame tap.
    "live_identity": set(DOMAIN),
    "config": {
        *DOMAIN,
        "compliance",
        "integration",
        "interview",
        "cluster",
        "jobs",
        "live_identity",
    },
    "web": {
        *DOMAIN,
        "compliance",
        "integration",
        "interview",
        "config",
        "cluster",
        "jobs",
        "live_identity",
    },
    "cli": {
        *DOMAIN,
        "compliance",
        "integration",
        "interview",
        "config",
        "web",
        "cluster",
        "jobs",
        "live_identity",
    },
    # Real servers on loopback for `make cluster` and the tests: nothing of ours.
    "localcluster": {"errors"},
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


def production_lines(package: str) -> int:
    return sum(len(path.read_text().splitlines()) for path in (ROOT / package).rglob("*.py"))


def test_web_is_the_http_side_and_no_more() -> None:
    lines = {package: production_lines(package) for package in ALLOWED}
    assert lines["web"] <= 0.30 * sum(lines.values()), lines


def test_only_serve_demo_seed_and_staff_commands_load_the_web_app() -> None:
    """An auditor's `verify-evidence` runs on a machine with nothing else."""

    def loaded(*args: str) -> set[str]:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}

    def web_modules(found: set[str]) -> set[str]:
        return {name for name in found if name == "web" or name.startswith("web.")}

    help_modules = loaded("verify-evidence", "--help")
    assert "compliance.evidence_check" in help_modules
    assert not web_modules(help_modules)
    assert not web_modules(loaded("verify-evidence", "/nonexistent.zip", "--trust", "/none"))
    assert "web.app" in loaded("serve", "--help")


def test_no_test_module_imports_another() -> None:
    """What tests share lives in support modules (tests/*_support.py and the like):
    importing a test module runs its collection-time code and hides the dependency."""
    offenders = set()
    for source in (ROOT / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if isinstance(node, ast.ImportFrom) and node.module == "tests":
                names = [f"tests.{alias.name}" for alias in node.names]
            if any(name.startswith("tests.test_") for name in names):
                offenders.add(source.name)
    assert not offenders, offenders


def test_every_error_derives_from_the_one_base() -> None:
    """One vocabulary: every domain error derives from errors.SignroomError (message,
    code, keyword details), so web/errors.py maps all of them in one table. Only
    that base and the HTTP side's own ApiError derive from Python's exceptions."""
    builtin = {"Exception", "ValueError", "RuntimeError", "TypeError", "LookupError"}
    roots = set()
    for package in ALLOWED:
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.parse(source.read_text(), str(source)).body:
                if (
                    isinstance(node, ast.ClassDef)
                    and {ast.unparse(b) for b in node.bases} & builtin
                ):
                    roots.add(f"{source.relative_to(ROOT)}:{node.name}")
    assert roots == {"errors/__init__.py:SignroomError", "web/errors.py:ApiError"}


ACTION_MODULES = (
    "audit.actions",
    "loans.actions",
    "kyc.actions",
    "signing.actions",
    "media.actions",
    "integration.actions",
    "compliance.actions",
    "web.actions",
)


def test_each_audit_action_is_named_once_in_its_packages_actions_module() -> None:
    """Writers, the review timeline, the evidence verifier and the webhook event
    mapping all use the typed names: an action's string appears nowhere else."""
    names: dict[str, str] = {}
    for module in ACTION_MODULES:
        for enum in vars(importlib.import_module(module)).values():
            if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum:
                for member in enum:
                    assert member.value not in names, (member.value, names.get(member.value))
                    names[member.value] = f"{module}.{enum.__name__}"
    written = set()
    for package in ALLOWED:
        for source in (ROOT / package).rglob("*.py"):
            if source.name == "actions.py":
                continue
            tree = ast.parse(source.read_text(), str(source))
            # Another vocabulary's own names (webhook event types) may equal an action's.
            vocabularies = {
                id(constant)
                for node in ast.walk(tree)
                if isinstance(node, ast.ClassDef) and "StrEnum" in map(ast.unparse, node.bases)
                for constant in ast.walk(node)
            }
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and node.value in names
                    and id(node) not in vocabularies
                ):
                    written.add(f"{source.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert not written


def test_pages_call_the_server_and_show_status_through_common_js() -> None:
    """One api()/upload()/download() carries the CSRF token and turns error bodies
    into ApiError; one setStatus() styles status lines."""
    scripts = ROOT / "web" / "static" / "js"
    raw = {
        f"{path.name}:{number}"
        for path in scripts.glob("*.js")
        if path.name != "common.js"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bfetch\((?!\"/healthz\")|className = .status", line)
    }
    assert not raw
