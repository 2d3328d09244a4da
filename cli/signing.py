"""Signed contracts and the service CA: verify-pdf, signing selftest, pki export-root/revoke."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.common import CLI_ACTOR, trust_roots
from config.services import open_signing
from config.settings import Settings
from signing import certificate_register
from signing.errors import PdfUnreadable, SigningError
from signing.pades import StatusBook
from signing.pki.event import EventCredential
from signing.selftest import run_selftest
from signing.validation import PdfReport, Verdict, validate_pdf
from signing.workers import quiet_pyhanko_logs
from store.database import create_engine


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = sub.add_parser(
        "verify-pdf", help="validate every signature in a PDF (exit 0 only when valid)"
    )
    verify.add_argument("file", type=Path)
    verify.add_argument(
        "--trust",
        type=Path,
        action="append",
        help="trust root (PEM or DER); default: this service's root CA",
    )
    verify.add_argument("--at", help="validate as of this ISO 8601 time (e.g. ten years on)")
    verify.add_argument(
        "--online", action="store_true", help="fetch missing revocation data over the network"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument(
        "--any",
        action="store_true",
        help="any signed PDF: do not require a contract's two signatures and document timestamp",
    )

    signing = sub.add_parser("signing", help="contract signing tools").add_subparsers(
        dest="signing_command", required=True
    )
    selftest = signing.add_parser(
        "selftest", help="render and sign a sample contract with this setup, then validate it"
    )
    selftest.add_argument("--out", type=Path, required=True)

    pki = sub.add_parser("pki", help="the service CA").add_subparsers(
        dest="pki_command", required=True
    )
    export = pki.add_parser("export-root", help="write the root CA certificate (PEM)")
    export.add_argument("out", type=Path)
    revoke = pki.add_parser("revoke", help="revoke a certificate issued by the issuing CA")
    revoke.add_argument("serial", type=int)
    revoke.add_argument("--reason", required=True, choices=sorted(certificate_register.REASONS))


def print_report(report: PdfReport) -> None:
    print(f"verdict: {report.verdict.value}   (validated as of {report.validated_at})")
    for signature in report.signatures:
        mark = "ok " if signature.valid else "BAD"
        print(f"[{mark}] {signature.kind} {signature.field_name}")
        print(f"      signer: {signature.signer}")
        if signature.test_certificate:
            print("      TEST CERTIFICATE (selftest only)")
        print(
            f"      timestamp: {signature.timestamp}  claimed: {signature.signing_time}\n"
            f"      coverage: {signature.coverage}  modifications: {signature.modification_level}"
            f"  trusted: {signature.trusted}  ltv: {signature.ltv}"
        )
        for problem in signature.problems:
            print(f"      problem: {problem}")
    for problem in report.problems:
        print(f"problem: {problem}")


def verify_pdf(args: argparse.Namespace, settings: Settings) -> int:
    quiet_pyhanko_logs()
    try:
        data = args.file.read_bytes()
        at = datetime.fromisoformat(args.at) if args.at else None
        if at is not None and at.tzinfo is None:
            raise ValueError("give --at with a time zone, e.g. 2036-01-01T00:00:00+00:00")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        roots = trust_roots(args.trust, settings)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the trust root: {exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(validate_pdf(data, roots, at=at, allow_fetching=args.online))
    except PdfUnreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report)
    return 0 if report.verdict is Verdict.VALID else 1


async def _selftest(settings: Settings, out: Path) -> int:
    service = await asyncio.to_thread(open_signing, settings)
    engine = create_engine(settings.database_url)
    try:
        registered: list[int] = []

        async def book() -> StatusBook:
            return await certificate_register.status_book(
                engine, service.service_serials(), registered
            )

        async def register(credential: EventCredential) -> None:
            await certificate_register.record_certificate(
                engine, CLI_ACTOR, credential.certificate, "test", {"purpose": "selftest"}
            )
            registered.append(credential.certificate.serial_number)

        result = await run_selftest(service, book, register)
    except SigningError as exc:
        print(f"selftest FAILED at step {exc.step or '?'}: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    await asyncio.to_thread(out.write_bytes, result.pdf)
    for step in result.steps:
        print(f"{step.step:<22} ok  {step.milliseconds:8.1f} ms")
    print(f"selftest passed; signed sample (TEST certificate) written to {out}")
    return 0


async def _revoke(engine: AsyncEngine, settings: Settings, serial: int, reason: str) -> int:
    service = await asyncio.to_thread(open_signing, settings)
    await certificate_register.revoke(engine, CLI_ACTOR, serial, reason, service.service_serials())
    print(f"revoked {serial} ({reason})")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "verify-pdf":
        return verify_pdf(args, settings)
    if args.command == "signing":
        return asyncio.run(_selftest(settings, args.out))
    if args.pki_command == "export-root":
        service = open_signing(settings)
        args.out.write_bytes(
            service.authority.root.certificate.public_bytes(serialization.Encoding.PEM)
        )
        return 0
    engine = create_engine(settings.database_url)

    async def revoke() -> int:
        try:
            return await _revoke(engine, settings, args.serial, args.reason)
        except SigningError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            await engine.dispose()

    return asyncio.run(revoke())
