"""What several command groups share: the CLI's audit actor, a database engine for
one command, and the trust roots a verification is held against."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_certs_from_pemder
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import Actor
from config.settings import Settings
from store.database import create_engine

CLI_ACTOR = Actor("cli", "admin")


async def with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[int]]) -> int:
    engine = create_engine(settings.database_url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def _load(path: Path) -> list[asn1_x509.Certificate]:
    return list(load_certs_from_pemder([str(path)]))  # type: ignore[no-untyped-call]


def trust_roots(paths: list[Path] | None, settings: Settings) -> list[asn1_x509.Certificate]:
    """The roots given with --trust, or this service's own root CA."""
    if paths:
        return [cert for path in paths for cert in _load(path)]
    root = settings.pki_dir / "root.pem"
    if not root.exists():
        raise SystemExit(f"no --trust given and no service root at {root}")
    return _load(root)
