"""The `signroom` command, run as a separate process against each backend."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from audit.verify import verify_log
from store.database import create_engine
from store.schema import users


async def signroom(
    database_url: str, *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIGNROOM_DATABASE_URL": database_url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


async def test_migrate_users_and_verify_honour_the_database_url(database_url: str) -> None:
    migrated = await signroom(database_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    added = await signroom(database_url, "user", "add", "alice", "--role", "manager")
    assert added.returncode == 0, added.stderr
    generated = re.search(r"password: (\S+)", added.stdout)
    assert generated and len(generated.group(1)) >= 16
    chosen = await signroom(
        database_url,
        "user",
        "add",
        "bob",
        "--role",
        "compliance",
        "--password-stdin",
        stdin="a long enough passphrase\n",
    )
    assert chosen.returncode == 0 and "password:" not in chosen.stdout
    duplicate = await signroom(database_url, "user", "add", "alice", "--role", "admin")
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr
    short = await signroom(
        database_url, "user", "passwd", "alice", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1
    changed = await signroom(
        database_url,
        "user",
        "passwd",
        "alice",
        "--password-stdin",
        stdin="another long passphrase\n",
    )
    assert changed.returncode == 0
    disabled = await signroom(database_url, "user", "disable", "alice")
    assert disabled.returncode == 0
    missing = await signroom(database_url, "user", "disable", "nobody")
    assert missing.returncode == 1
    verified = await signroom(database_url, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # alice and bob created, one password change, one disable
    assert "intact: 4 entries" in verified.stdout

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = {r.username: r for r in (await conn.execute(select(users))).all()}
            assert (await verify_log(conn)).entries_checked == 4
    finally:
        await engine.dispose()
    assert rows["alice"].disabled and not rows["bob"].disabled
    assert rows["alice"].password_hash.startswith("$argon2id$")
    for output in (added.stdout, added.stderr, changed.stdout, changed.stderr):
        assert "another long passphrase" not in output


async def test_demo_seed_prints_working_credentials_and_is_idempotent(
    sqlite_url: str, tmp_path: Path
) -> None:
    assert (await signroom(sqlite_url, "migrate")).returncode == 0
    first = await signroom(sqlite_url, "demo-seed")
    assert first.returncode == 0, first.stderr
    passwords = re.findall(r"^\s+(\w+)\s+(\w+)\s+password: (\S+)$", first.stdout, re.M)
    assert {(role, user) for role, user, _ in passwords} == {
        ("manager", "manager"),
        ("compliance", "compliance"),
        ("admin", "admin"),
    }
    assert re.search(r"applicant invite link: http://127\.0\.0\.1:8080/i/[\w-]{22}", first.stdout)
    second = await signroom(sqlite_url, "demo-seed")
    assert second.returncode == 0
    assert "password:" not in second.stdout and "exists" in second.stdout


async def test_bad_configuration_is_reported_not_raised(tmp_path: Path) -> None:
    result = await signroom("mysql://nope", "migrate")
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "Traceback" not in result.stderr
