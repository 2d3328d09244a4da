"""What /readyz reports: each dependency this node needs, checked now and within
a few seconds, so that a health check never hangs on a dependency that hangs.

Not ready (503) when the database, the blob store, the data disk or (with
several nodes) Redis is not usable, or when the node is draining; the body
names each check and what is wrong, for the operator and the load balancer.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from interview.calls import Calls
from store.blobs import BlobStore
from store.errors import StoreError
from store.migrate import is_current

CHECK_SECONDS = 3.0
Check = dict[str, Any]


async def _within(check: Awaitable[Check]) -> Check:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await check
    except TimeoutError:
        return {"ok": False, "problem": f"no answer within {CHECK_SECONDS:.0f} s"}


async def database(engine: AsyncEngine) -> Check:
    async def check() -> Check:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            current = await is_current(engine)
        except Exception as exc:  # any database failure means not ready
            return {"ok": False, "problem": f"database unavailable: {type(exc).__name__}"}
        if not current:
            return {"ok": False, "problem": "database schema is not at the newest migration"}
        return {"ok": True}

    return await _within(check())


async def blob_store(blobs: BlobStore) -> Check:
    async def check() -> Check:
        try:
            await blobs.check()
        except StoreError as exc:
            return {"ok": False, "problem": exc.message, "kind": type(blobs).__name__}
        return {"ok": True, "kind": type(blobs).__name__}

    return await _within(check())


def disk(directories: list[Path], min_free: int) -> Check:
    for directory in directories:
        problem = disk_problem(directory, min_free)
        if problem:
            return {"ok": False, "problem": problem}
    return {"ok": True}


def disk_problem(directory: Path, min_free: int) -> str | None:
    """Why files cannot be kept in `directory` now, or None. A full disk fails
    recordings and uploads midway, so the node says so before taking work."""
    if not directory.is_dir():
        return None  # made on first use, on a disk checked through its parent
    if not os.access(directory, os.W_OK):
        return f"{directory.name}: not writable"
    free = shutil.disk_usage(directory).free
    if free < min_free:
        return f"{directory.name}: {free // (1024 * 1024)} MB free, below the minimum"
    return None


def cluster(calls: Calls) -> Check:
    status = calls.nodes.status()
    if calls.bus is not None:
        status["bus"] = "connected" if calls.bus.connected else "reconnecting"
        if not calls.bus.connected and status.get("ok"):
            status = {
                **status,
                "ok": False,
                "problem": "Redis unreachable: message bus reconnecting",
            }
    if calls.nodes.draining:
        status = {**status, "ok": False, "problem": "draining: takes no new calls"}
    if not status.get("ok") and "problem" not in status:
        status["problem"] = "Redis unreachable"
    status["hosted_calls"] = len(calls.hosted)
    return status
