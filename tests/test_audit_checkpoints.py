"""Anchored audit log: RFC 6962 known answers and proofs, 1,000 random rewrites of a
10,000-entry log all caught by the checkpoints, sealed checkpoints in the service,
exported checkpoints catching a database rolled back."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit import merkle
from audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    canonical_json,
    hashed_fields,
)
from audit.checkpoints import (
    Checkpoint,
    anchored_problems,
    checkpoints_due,
    export_problems,
    load_checkpoints,
    make_checkpoint,
    statement,
    verify_checkpoints,
)
from audit.log import iter_entries
from audit.tree import leaf
from loans.roles import Role
from store.schema import audit_checkpoints
from tests.web_support import Service, start_service, stop_service
from web.keys import SIGNING

# RFC 6962 reference tree (the certificate-transparency test data).
DATA = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION_0_OF_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def test_rfc_6962_known_answers() -> None:
    leaves = [merkle.leaf_hash(d) for d in DATA]
    for size, expected in enumerate(ROOTS):
        assert merkle.root(leaves[:size]).hex() == expected, size
    proof = merkle.inclusion_proof(0, leaves)
    assert [p.hex() for p in proof] == INCLUSION_0_OF_8
    assert merkle.verify_inclusion(0, 8, leaves[0], proof, bytes.fromhex(ROOTS[8]))


def test_inclusion_and_consistency_proofs_hold_and_fail_when_they_should() -> None:
    rng = random.Random(7)
    for size in range(1, 65):
        leaves = [merkle.leaf_hash(bytes([i, size])) for i in range(size)]
        top = merkle.root(leaves)
        for index in range(size):
            proof = merkle.inclusion_proof(index, leaves)
            assert merkle.verify_inclusion(index, size, leaves[index], proof, top)
            if size > 1:
                other = leaves[(index + 1) % size]
                assert not merkle.verify_inclusion(index, size, other, proof, top)
        for old in range(1, size + 1):
            proof = merkle.consistency_proof(old, leaves)
            assert merkle.verify_consistency(old, size, merkle.root(leaves[:old]), top, proof)
            if old < size:
                forged = list(leaves)
                forged[rng.randrange(old)] = merkle.leaf_hash(b"forged")
                assert not merkle.verify_consistency(
                    old, size, merkle.root(forged[:old]), top, proof
                )


T0 = datetime(2026, 11, 29, tzinfo=UTC)


class Canonical:
    """Canonical bytes per entry object. Entries are immutable, so an object checked
    once need not be encoded again; the object is kept so its id cannot be reused."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[AuditEntry, bytes]] = {}

    def remember(self, entry: AuditEntry, encoded: bytes) -> None:
        self._seen[id(entry)] = (entry, encoded)

    def __call__(self, entry: AuditEntry) -> bytes:
        hit = self._seen.get(id(entry))
        if hit is not None and hit[0] is entry:
            return hit[1]
        encoded = canonical_json(entry.hashed_fields()).encode()
        self._seen[id(entry)] = (entry, encoded)
        return encoded


def chained(
    rows: list[dict[str, Any]],
    *,
    first_seq: int = 1,
    prev: str = GENESIS_HASH,
    canonical: Canonical | None = None,
) -> list[AuditEntry]:
    """Entries numbered and linked as an attacker who rewrites the database would
    produce them (from `first_seq` on, after the entry whose hash is `prev`)."""
    out: list[AuditEntry] = []
    for seq, row in enumerate(rows, start=first_seq):
        encoded = canonical_json(hashed_fields(seq=seq, prev_hash=prev, **row)).encode()
        entry = AuditEntry(
            seq=seq, prev_hash=prev, entry_hash=hashlib.sha256(encoded).hexdigest(), **row
        )
        if canonical is not None:
            canonical.remember(entry, encoded)
        out.append(entry)
        prev = entry.entry_hash
    return out


def content(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "application_id": entry.application_id,
        "request_id": entry.request_id,
        "details": entry.details,
    }


def chain_problem(entries: list[AuditEntry], canonical: Canonical) -> bool:
    """The hash-chain check of audit.verify, on a list."""
    prev = GENESIS_HASH
    for seq, entry in enumerate(entries, start=1):
        if entry.seq != seq or entry.prev_hash != prev:
            return True
        if hashlib.sha256(canonical(entry)).hexdigest() != entry.entry_hash:
            return True
        prev = entry.entry_hash
    return False


def mutate(
    entries: list[AuditEntry], rng: random.Random, canonical: Canonical
) -> tuple[list[AuditEntry], str]:
    kind = rng.choice(["edit", "delete", "reorder", "insert"])
    recompute = rng.random() < 0.5
    position = rng.randrange(len(entries))
    other = position
    while kind == "reorder" and other == position:
        other = rng.randrange(len(entries))
    first = min(position, other)
    rows = [content(e) for e in entries[first:]]
    at, to = position - first, other - first
    if kind == "edit":
        rows[at] = {**rows[at], "details": {**rows[at]["details"], "x": 1}}
    elif kind == "delete":
        del rows[at]
    elif kind == "reorder":
        rows[at], rows[to] = rows[to], rows[at]
    else:
        rows.insert(at, {**rows[at], "action": "forged"})
    if recompute:
        prev = entries[first - 1].entry_hash if first else GENESIS_HASH
        suffix = chained(rows, first_seq=first + 1, prev=prev, canonical=canonical)
        return entries[:first] + suffix, f"{kind}+rechain"
    # A naive rewrite keeps the stored numbers and hashes where they were.
    if kind == "delete":
        return entries[:position] + entries[position + 1 :], kind
    if kind == "insert":
        forged = dataclasses.replace(entries[position], action="forged")
        return [*entries[:position], forged, *entries[position:]], kind
    naive = list(entries)
    for index in {position, other}:
        naive[index] = dataclasses.replace(entries[index], **rows[index - first])
    return naive, kind


def test_a_thousand_rewrites_of_a_ten_thousand_entry_log_are_all_caught() -> None:
    rng = random.Random(2026)
    rows = [
        {
            "at": T0 + timedelta(seconds=i),
            "actor": f"user:{i % 7}",
            "role": "manager",
            "action": rng.choice(["application.transition", "kyc.document_read", "call.joined"]),
            "application_id": f"app-{i % 300}",
            "request_id": f"r{i}",
            "details": {"n": i},
        }
        for i in range(10_000)
    ]
    entries = chained(rows)
    canonical = Canonical()
    leaves = [leaf(e) for e in entries]
    assert leaves == [merkle.leaf_hash(canonical(e)) for e in entries]
    checkpoints: list[Checkpoint] = []
    for size in (2_500, 5_000, 7_500, 10_000):
        start = checkpoints[-1].tree_size + 1 if checkpoints else 1
        tree, part = merkle.root(leaves[:size]), merkle.root(leaves[start - 1 : size])
        head = entries[size - 1].entry_hash
        checkpoints.append(
            Checkpoint(
                size,
                start,
                tree.hex(),
                part.hex(),
                head,
                "entries",
                T0,
                statement(size, tree, start, part, head, T0),
                b"",
            )
        )
    assert not chain_problem(entries, canonical)
    assert anchored_problems(entries, checkpoints, leaves=leaves) == []
    kinds: Counter[str] = Counter()
    missed = []
    for _ in range(1_000):
        forged, what = mutate(entries, rng, canonical)
        kinds[what] += 1
        if chain_problem(forged, canonical):
            continue
        forged_leaves = [merkle.leaf_hash(canonical(e)) for e in forged]
        if not anchored_problems(forged, checkpoints, leaves=forged_leaves, first_only=True):
            missed.append(what)
    assert missed == []
    assert len(kinds) == 8 and min(kinds.values()) > 80, kinds  # every kind, both ways


async def test_checkpoints_fall_due_by_entries_by_age_and_by_session_end(
    engine: AsyncEngine,
) -> None:
    start = datetime.now(UTC)
    hour = timedelta(hours=1)

    async def due(at: datetime) -> str | None:
        return await checkpoints_due(
            engine, every_entries=5, every_seconds=3600, session_actions={"call.ended"}, now=at
        )

    async def append(action: str, at: datetime) -> None:
        async with engine.begin() as conn:
            await audit.append(conn, audit.SYSTEM, action, at=at)

    async def unsealed_seal(text: bytes) -> bytes:
        return b"not a CMS: only when checkpoints fall due is under test"

    assert await due(start) is None
    for minute in range(3):
        await append("application.created", start + timedelta(minutes=minute))
    # A fresh log is not sealed ahead of its entry count: time counts from the
    # oldest entry left unsealed.
    assert await due(start + timedelta(minutes=59)) is None
    assert await due(start + hour) == "time"
    await append("call.ended", start + timedelta(minutes=3))
    assert await due(start + timedelta(minutes=4)) == "session_end"
    await append("application.created", start + timedelta(minutes=4))
    assert await due(start + timedelta(minutes=5)) == "entries"

    assert await make_checkpoint(engine, unsealed_seal, "entries") is not None
    # The checkpoint's own entry is all that follows it: nothing to seal, however late.
    assert await due(datetime.now(UTC) + 10 * hour) is None
    later = datetime.now(UTC) + hour
    await append("application.created", later)
    assert await due(later + timedelta(minutes=59)) is None
    assert await due(later + hour) == "time"


async def test_concurrent_sealers_each_start_where_the_newest_checkpoint_ended(
    engine: AsyncEngine,
) -> None:
    """Exports and the periodic loop seal at once: every checkpoint is stored (no
    UNIQUE clash), each follows the one before, and the log verifies."""

    async def slow_seal(text: bytes) -> bytes:
        await asyncio.sleep(0.05)  # the bank's seal and a timestamp take a while
        return b"not a CMS: the ordering is under test"

    async def append(count: int) -> None:
        for _ in range(count):
            async with engine.begin() as conn:
                await audit.append(conn, audit.SYSTEM, "application.created")

    for _ in range(4):
        await append(3)
        results = await asyncio.gather(
            *(make_checkpoint(engine, slow_seal, "evidence_export") for _ in range(3)),
            append(2),
        )
        assert any(isinstance(r, Checkpoint) for r in results)
    sealed = await load_checkpoints(engine)
    async with engine.connect() as conn:
        entries = [entry async for entry in iter_entries(conn)]
    assert anchored_problems(entries, sealed) == []
    for before, after in itertools.pairwise(sealed):
        assert after.range_start == before.tree_size + 1


def test_checkpoints_sealed_concurrently_before_the_fix_still_verify() -> None:
    """A store the race left behind (two checkpoints from the same start) is not a
    tamper alarm; one that skips entries is."""
    entries = chained(
        [
            {
                "at": T0 + timedelta(seconds=i),
                "actor": "system",
                "role": "system",
                "action": "application.created",
                "application_id": None,
                "request_id": None,
                "details": {"n": i},
            }
            for i in range(12)
        ]
    )
    hashed = [leaf(e) for e in entries]

    def sealed(size: int, start: int) -> Checkpoint:
        text = statement(
            size,
            merkle.root(hashed[:size]),
            start,
            merkle.root(hashed[start - 1 : size]),
            entries[size - 1].entry_hash,
            datetime.now(UTC),
        )
        return Checkpoint(
            size,
            start,
            merkle.root(hashed[:size]).hex(),
            merkle.root(hashed[start - 1 : size]).hex(),
            entries[size - 1].entry_hash,
            "entries",
            datetime.now(UTC),
            text,
            b"",
        )

    raced = [sealed(4, 1), sealed(8, 5), sealed(9, 5), sealed(12, 10)]
    assert anchored_problems(entries, raced) == []
    skipping = [sealed(4, 1), sealed(12, 9)]
    assert anchored_problems(entries, skipping) == ["checkpoint 12 does not follow checkpoint 4"]


@pytest.fixture
async def sealed_service(tmp_path: Path, sqlite_url: str) -> Any:
    service = await start_service(
        tmp_path,
        sqlite_url,
        checkpoint_poll_ms="100",
        checkpoint_every_entries="5",
        checkpoint_export_dir=str(tmp_path / "export"),
    )
    await service.add_user("m1", Role.MANAGER)
    try:
        yield service
    finally:
        await stop_service(service)


async def entries_of(service: Service) -> list[AuditEntry]:
    async with service.engine.connect() as conn:
        return [entry async for entry in iter_entries(conn)]


async def test_the_service_seals_checkpoints_and_catches_a_forged_one(
    sealed_service: Service, tmp_path: Path
) -> None:
    service = sealed_service
    for _ in range(4):
        await service.new_application("m1")
    for _ in range(100):
        if await load_checkpoints(service.engine):
            break
        await asyncio.sleep(0.1)
    sealed = await load_checkpoints(service.engine)
    assert sealed and sealed[0].reason == "entries"
    assert service.server.app is not None
    signing = service.server.app[SIGNING]
    entries = await entries_of(service)
    assert await verify_checkpoints(entries, sealed, signing.check_statement) == []
    assert export_problems(entries, tmp_path / "export") == []
    exported = sorted((tmp_path / "export").glob("checkpoint-*.json"))
    assert len(exported) == len(sealed)
    await service.add_user("c1", Role.COMPLIANCE)
    compliance = await service.staff("c1")
    before = (await compliance.request("GET", "/api/audit/verify")).body
    assert before["ok"] is True and before["problems"] == [], before
    assert before["checkpoints"] >= 1

    # Someone edits a checkpoint row to match a rewritten log: its seal no longer holds.
    async with service.engine.begin() as conn:
        await conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.tree_size == sealed[0].tree_size)
            .values(tree_root="0" * 64)
        )
    forged = await load_checkpoints(service.engine)
    problems = await verify_checkpoints(entries, forged, signing.check_statement)
    assert any("sealed statement" in p for p in problems), problems
    # The compliance console's check sees it too, not only the command line.
    after = (await compliance.request("GET", "/api/audit/verify")).body
    assert after["ok"] is False
    assert any("sealed statement" in p for p in after["problems"]), after
    # And a statement re-sealed by someone else's key is not trusted.
    stranger = dataclasses.replace(sealed[0], signature=sealed[0].signature[:-8] + b"\x00" * 8)
    assert await signing.check_statement(stranger.statement, stranger.signature)


def test_a_database_rolled_back_is_caught_against_the_export(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite"
    env = {
        **os.environ,
        "SIGNROOM_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "SIGNROOM_DATA_DIR": str(tmp_path / "var"),
        "SIGNROOM_CHECKPOINT_EXPORT_DIR": str(tmp_path / "export"),
    }

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert cli("migrate").returncode == 0
    assert (
        cli(
            "user",
            "add",
            "m1",
            "--role",
            "manager",
            "--password-stdin",
            stdin="long enough password\n",
        ).returncode
        == 0
    )
    backup = tmp_path / "backup.sqlite"
    shutil.copy(database, backup)  # the state an attacker will restore
    assert (
        cli(
            "user",
            "add",
            "m2",
            "--role",
            "manager",
            "--password-stdin",
            stdin="long enough password\n",
        ).returncode
        == 0
    )
    sealed = cli("audit", "checkpoint")
    assert sealed.returncode == 0 and "checkpoint at" in sealed.stdout, sealed.stderr
    fine = cli("audit", "verify")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "1 checkpoints" in fine.stdout
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, database)
    rolled_back = cli("audit", "verify")
    assert rolled_back.returncode == 1
    assert "rolled back" in rolled_back.stdout
    # The chain itself is intact: only the export tells.
    assert "audit chain intact" in rolled_back.stdout
