"""Operating commands: migrate the schema, sweep data past retention."""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from cli.common import with_engine
from compliance.retention import RetentionSweeper
from config.services import open_blob_store
from config.settings import Settings
from store.blobs import BIOMETRICS, BlobNamespaces
from store.database import redacted_url
from store.migrate import upgrade


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("migrate", help="create or upgrade the database schema")
    retention = sub.add_parser("retention", help="data retention").add_subparsers(
        dest="retention_command", required=True
    )
    retention.add_parser(
        "sweep",
        help="delete closed cases' recordings, images and packages past their retention "
        "period now (the service also does it every SIGNROOM_RETENTION_SWEEP_MINUTES)",
    )


async def _migrate(engine: AsyncEngine) -> int:
    await upgrade(engine)
    return 0


async def _retention_sweep(engine: AsyncEngine, settings: Settings) -> int:
    stores = BlobNamespaces(open_blob_store(settings), open_blob_store(settings, BIOMETRICS))
    sweeper = RetentionSweeper(engine, stores, settings.retention)
    done = await sweeper.sweep()
    for application_id, kinds in sorted(done.items()):
        counts = " ".join(f"{kind}={n}" for kind, n in sorted(kinds.items()))
        print(f"{application_id}: deleted {counts}")
    print(f"retention sweep: {len(done)} application(s) had data past retention")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        asyncio.run(with_engine(settings, _migrate))
        print(f"database at newest schema: {redacted_url(settings.database_url)}")
        return 0
    return asyncio.run(with_engine(settings, lambda e: _retention_sweep(e, settings)))
