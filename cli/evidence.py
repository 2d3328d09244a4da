"""`signroom verify-evidence`: an evidence package checked offline against the bank's root.

Loads compliance's verifier and signing's validation only: nothing of the web app.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.common import trust_roots
from compliance.evidence_check import verify_file
from config.settings import Settings
from signing.workers import quiet_pyhanko_logs


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evidence = sub.add_parser(
        "verify-evidence",
        help="check an evidence package offline (exit 0 only when everything holds)",
    )
    evidence.add_argument("package", type=Path)
    evidence.add_argument(
        "--trust",
        type=Path,
        action="append",
        required=True,
        help="the bank's root certificate (PEM or DER)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    quiet_pyhanko_logs()
    try:
        data = args.package.read_bytes()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = verify_file(data, trust_roots(args.trust, settings))
    for line in report.checked:
        print(f"ok       {line}")
    for line in report.problems:
        print(f"PROBLEM  {line}")
    print("evidence package holds" if report.ok else f"{len(report.problems)} problem(s)")
    return 0 if report.ok else 1
