"""The `signroom` command line. Every command honours SIGNROOM_DATABASE_URL."""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.checkpoints import make_checkpoint, verify_anchored_log
from audit.log import Actor
from kyc.errors import KycError
from kyc.face_calibration import MAX_GENUINE_NO_MATCH, MAX_MATCH_FAR, bands, calibrate, table
from kyc.face_engine import engine as face_engine
from kyc.facematch import compare, distance_between, samples_from
from kyc.faces import FaceSample
from kyc.passive import assess_file
from kyc.reading import read_id_card, read_licence
from loans.roles import STAFF_ROLES
from store.blobs import FileBlobStore
from store.database import create_engine, redacted_url
from store.errors import StoreError
from store.migrate import upgrade
from web import cli_signing
from web.app import create_app
from web.auth import api_keys, users
from web.auth.passwords import generate_password
from web.config import ConfigError, Settings
from web.demo import seed
from web.event_loop import new_event_loop
from web.logs import AccessLogger, configure_logging
from web.retention import RetentionSweeper
from web.signing import open_signing

CLI_ACTOR = Actor("cli", "admin")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the database schema")
    serve = sub.add_parser("serve", help="run the web service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("demo-seed", help="create the demo bank's staff and one application")

    user = sub.add_parser("user", help="manage staff accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=sorted(r.value for r in STAFF_ROLES))
    add.add_argument("--display-name")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )
    passwd = user.add_parser("passwd", help="set a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    disable = user.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    enable = user.add_parser("enable", help="enable a disabled account")
    enable.add_argument("username")

    audit_cmd = sub.add_parser("audit", help="audit log tools").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit_cmd.add_parser(
        "verify",
        help="recompute the hash chain, check every checkpoint's seal, timestamp and roots; "
        "exit 1 naming what is broken",
    )
    verify.add_argument(
        "--exported",
        type=Path,
        help="directory of exported checkpoints to hold the database against "
        "(default: SIGNROOM_CHECKPOINT_EXPORT_DIR)",
    )
    audit_cmd.add_parser("checkpoint", help="seal the log as it stands now")
    retention = sub.add_parser("retention", help="data retention").add_subparsers(
        dest="retention_command", required=True
    )
    retention.add_parser(
        "sweep",
        help="delete closed cases' recordings, images and packages past their retention "
        "period now (the service also does it every SIGNROOM_RETENTION_SWEEP_MINUTES)",
    )

    kyc = sub.add_parser("kyc", help="identity document tools (JSON on stdout)").add_subparsers(
        dest="kyc_command", required=True
    )
    read_id = kyc.add_parser("read-id", help="read a PRC ID card photo (front, back or both)")
    read_id.add_argument("file", type=Path)
    read_id.add_argument("--expect-name", help="the application's legal representative")
    read_id.add_argument(
        "--today", type=date.fromisoformat, default=None, help="date for the expiry check"
    )
    read_licence = kyc.add_parser("read-licence", help="read a business licence photo")
    read_licence.add_argument("file", type=Path)
    read_licence.add_argument("--expect-company")
    read_licence.add_argument("--expect-credit-code")
    read_licence.add_argument("--expect-legal-representative")
    face_match = kyc.add_parser(
        "face-match", help="face distance and decision for two files, or for --pairs CSV"
    )
    face_match.add_argument("files", type=Path, nargs="*", help="A B: photos or videos")
    face_match.add_argument("--pairs", type=Path, help="CSV with columns a,b")
    calibrate_cmd = kyc.add_parser(
        "calibrate",
        help="thresholds for the configured face model from labelled pairs, with FAR/FRR",
    )
    calibrate_cmd.add_argument(
        "--pairs", type=Path, required=True, help="CSV with columns a,b,same (1/0, yes/no)"
    )
    calibrate_cmd.add_argument(
        "--write", type=Path, help="write the thresholds file SIGNROOM_FACE_THRESHOLDS names"
    )
    liveness = kyc.add_parser(
        "liveness", help="passive liveness of a video or image (active challenges need a session)"
    )
    liveness.add_argument("file", type=Path)
    liveness.add_argument(
        "--passive",
        action="store_true",
        required=True,
        help="score the recording with the passive cues (the only mode offline)",
    )
    cli_signing.add_parsers(sub)
    api_key = sub.add_parser("api-key", help="API keys for /api/v1").add_subparsers(
        dest="api_key_command", required=True
    )
    create = api_key.add_parser("create", help="create a key (printed once)")
    create.add_argument("name")
    create.add_argument("--user", required=True, help="the manager account the key acts for")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=sorted(s.value for s in api_keys.Scope),
    )
    return parser


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set and whether it was generated (and must be shown)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty():
        first = getpass.getpass("new password (empty to generate one): ")
        if first:
            if getpass.getpass("repeat: ") != first:
                raise SystemExit("passwords differ")
            return first, False
    return generate_password(), True


async def _with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[int]]) -> int:
    engine = create_engine(settings.database_url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return _dispatch(args, settings)
    except (users.UserError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _retention_sweep(engine: AsyncEngine, settings: Settings) -> int:
    sweeper = RetentionSweeper(
        engine, FileBlobStore(settings.blob_dir), settings.recordings_dir, settings.retention
    )
    done = await sweeper.sweep()
    for application_id, kinds in sorted(done.items()):
        counts = " ".join(f"{kind}={n}" for kind, n in sorted(kinds.items()))
        print(f"{application_id}: deleted {counts}")
    print(f"retention sweep: {len(done)} application(s) had data past retention")
    return 0


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        asyncio.run(_with_engine(settings, _migrate))
        print(f"database at newest schema: {redacted_url(settings.database_url)}")
        return 0
    if args.command == "serve":
        host = args.host or settings.host
        port = args.port or settings.port
        print(f"signroom serving on http://{host}:{port}", flush=True)
        web.run_app(
            create_app(settings),
            host=host,
            port=port,
            access_log_class=AccessLogger,
            print=None,
            loop=new_event_loop(settings.event_loop),
        )
        return 0
    if args.command == "demo-seed":
        return asyncio.run(_with_engine(settings, lambda e: seed(e, settings)))
    if args.command == "user":
        return asyncio.run(_with_engine(settings, lambda e: _user(e, args)))
    if args.command == "audit":
        if args.audit_command == "checkpoint":
            return asyncio.run(_with_engine(settings, lambda e: _audit_checkpoint(e, settings)))
        return asyncio.run(_with_engine(settings, lambda e: _audit_verify(e, settings, args)))
    if args.command == "retention":
        return asyncio.run(_with_engine(settings, lambda e: _retention_sweep(e, settings)))
    if args.command == "kyc":
        return _kyc(args)
    if args.command == "api-key":
        return asyncio.run(_with_engine(settings, lambda e: _api_key(e, args)))
    if args.command in ("verify-pdf", "verify-evidence", "signing", "pki"):
        return cli_signing.dispatch(args, settings)
    return 2


def _kyc(args: argparse.Namespace) -> int:
    if args.kyc_command == "face-match":
        return _face_match(args)
    if args.kyc_command == "calibrate":
        return _calibrate(args)
    try:
        if args.kyc_command == "liveness":
            passive = assess_file(args.file)
            real = passive.real_probability
            print(
                json.dumps(
                    {
                        "score": round(passive.score, 3),
                        "decision": passive.decision,
                        "real_probability": None if real is None else round(real, 3),
                    }
                )
            )
            return 0
        image = args.file.read_bytes()
        if args.kyc_command == "read-id":
            reading = read_id_card(
                image, today=args.today or date.today(), expected_name=args.expect_name
            )
        else:
            reading = read_licence(
                image,
                expected_company=args.expect_company,
                expected_credit_code=args.expect_credit_code,
                expected_legal_representative=args.expect_legal_representative,
            )
    except (OSError, KycError) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps(reading.as_json(), ensure_ascii=False))
    return 0


async def _api_key(engine: AsyncEngine, args: argparse.Namespace) -> int:
    _key, plain = await api_keys.create_key(
        engine,
        CLI_ACTOR,
        name=args.name,
        scopes={api_keys.Scope(s) for s in args.scope},
        username=args.user,
    )
    print(plain)
    return 0


async def _migrate(engine: AsyncEngine) -> int:
    await upgrade(engine)
    return 0


async def _audit_verify(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> int:
    service = await asyncio.to_thread(open_signing, settings)
    report = await verify_anchored_log(
        engine, service.check_statement, args.exported or settings.checkpoint_export
    )
    print(report.chain.describe())
    if report.checkpoints:
        print(
            f"{report.checkpoints} checkpoints, newest covering {report.newest_tree_size} entries"
        )
    else:
        print("no checkpoints yet")
    if args.exported or settings.checkpoint_export:
        print(f"held against exported checkpoints in {args.exported or settings.checkpoint_export}")
    for problem in report.problems:
        print(f"problem: {problem}")
    return 0 if report.ok else 1


async def _audit_checkpoint(engine: AsyncEngine, settings: Settings) -> int:
    service = await asyncio.to_thread(open_signing, settings)
    checkpoint = await make_checkpoint(
        engine, service.seal_statement, "manual", export_dir=settings.checkpoint_export
    )
    print(f"checkpoint at {checkpoint.tree_size} entries" if checkpoint else "nothing new to seal")
    return 0


async def _user(e: AsyncEngine, args: argparse.Namespace) -> int:
    if args.user_command == "add":
        password, generated = _read_password(args.password_stdin)
        user = await users.create_user(
            e,
            CLI_ACTOR,
            username=args.username,
            display_name=args.display_name or args.username,
            role=args.role,
            password=password,
        )
        print(f"created {user.role.value} {user.username}")
        if generated:
            print(f"password: {password}")
        return 0
    if args.user_command == "passwd":
        password, generated = _read_password(args.password_stdin)
        await users.set_password(e, CLI_ACTOR, args.username, password)
        print(f"password changed for {args.username}")
        if generated:
            print(f"password: {password}")
        return 0
    disabled = args.user_command == "disable"
    await users.set_disabled(e, CLI_ACTOR, args.username, disabled)
    print(f"{args.username} {'disabled' if disabled else 'enabled'}")
    return 0


def _face_match(args: argparse.Namespace) -> int:
    """One JSON object per pair; each distinct file is processed once."""
    if args.pairs:
        try:
            with args.pairs.open(newline="", encoding="utf-8") as handle:
                pairs = [(Path(row["a"]), Path(row["b"])) for row in csv.DictReader(handle)]
        except (OSError, KeyError, csv.Error) as exc:
            print(json.dumps({"error": f"cannot read pairs: {exc}"}), file=sys.stderr)
            return 1
    elif len(args.files) == 2:
        pairs = [(args.files[0], args.files[1])]
    else:
        print(json.dumps({"error": "give two files, or --pairs FILE"}), file=sys.stderr)
        return 2
    samples: dict[Path, list[FaceSample] | str] = {}
    for path in sorted({p for pair in pairs for p in pair}):
        try:
            samples[path] = samples_from(path)
        except KycError as exc:
            samples[path] = str(exc)
    failed = False
    for a, b in pairs:
        row: dict[str, object] = {"a": str(a), "b": str(b)}
        left, right = samples[a], samples[b]
        if isinstance(left, str) or isinstance(right, str):
            row["error"] = left if isinstance(left, str) else right
            failed = True
        else:
            row.update(compare(left, right).as_json())
        print(json.dumps(row, ensure_ascii=False))
    return 1 if failed and len(pairs) == 1 else 0


SAME = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}


def _calibrate(args: argparse.Namespace) -> int:
    """Thresholds for the configured model from a bank's own labelled pairs: the
    constraints of kyc/face_calibration.py on its pairs, and the FAR/FRR table."""
    try:
        with args.pairs.open(newline="", encoding="utf-8") as handle:
            labelled = [
                (Path(row["a"]), Path(row["b"]), SAME[row["same"].strip().lower()])
                for row in csv.DictReader(handle)
            ]
    except (OSError, KeyError, AttributeError, csv.Error) as exc:
        print(json.dumps({"error": f"cannot read pairs: {exc!r}"}), file=sys.stderr)
        return 1
    samples: dict[Path, list[FaceSample]] = {}
    unusable: dict[str, str] = {}
    for path in sorted({p for a, b, _ in labelled for p in (a, b)}):
        try:
            samples[path] = samples_from(path)
        except KycError as exc:
            unusable[str(path)] = str(exc)
    scored = [
        (distance_between(samples[a], samples[b]), same)
        for a, b, same in labelled
        if a in samples and b in samples
    ]
    genuine = sum(same for _, same in scored)
    if not genuine or genuine == len(scored):
        print(json.dumps({"error": "need genuine and impostor pairs", "unusable": unusable}))
        return 1
    limits = calibrate([scored])
    model = face_engine().description
    document = {
        **model.as_json(),
        "match": limits.match,
        "review": limits.review,
        "constraints": {
            "max_match_far": MAX_MATCH_FAR,
            "max_genuine_no_match": MAX_GENUINE_NO_MATCH,
        },
        "pairs": len(scored),
        "genuine": genuine,
        "impostor": len(scored) - genuine,
        "unusable": unusable,
        "bands": bands(scored, limits),
        "table": table(scored),
    }
    if args.write:
        temporary = args.write.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
        temporary.replace(args.write)
    print(json.dumps(document, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
