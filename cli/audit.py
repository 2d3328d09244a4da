"""The audit log: verify the chain and its checkpoints, seal it now."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.checkpoints import make_checkpoint, verify_anchored_log
from cli.common import with_engine
from config.services import open_signing
from config.settings import Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


async def _verify(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> int:
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


async def _checkpoint(engine: AsyncEngine, settings: Settings) -> int:
    service = await asyncio.to_thread(open_signing, settings)
    checkpoint = await make_checkpoint(
        engine, service.seal_statement, "manual", export_dir=settings.checkpoint_export
    )
    print(f"checkpoint at {checkpoint.tree_size} entries" if checkpoint else "nothing new to seal")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.audit_command == "checkpoint":
        return asyncio.run(with_engine(settings, lambda e: _checkpoint(e, settings)))
    return asyncio.run(with_engine(settings, lambda e: _verify(e, settings, args)))
