"""The stored Merkle tree: the same roots and proofs as the whole log in memory,
grown by the new entries only, read O(log n) nodes per proof, and refusing a log
with a hole in it."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import merkle, tree
from audit.errors import LogBroken
from audit.log import entries_between
from store.schema import audit_tree
from tests.audit_support import behind_the_back, fill

# Sizes that cross power-of-two boundaries, in uneven steps.
SIZES = [1, 2, 3, 4, 7, 8, 9, 16, 17, 31, 32, 33, 50, 64, 65, 77]


async def leaves_of(engine: AsyncEngine, size: int) -> list[bytes]:
    async with engine.connect() as conn:
        return [tree.leaf(e) for e in await entries_between(conn, 0, size)]


async def test_stored_roots_and_proofs_equal_the_whole_log_in_memory(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tree, "EXTEND_BATCH", 5)  # several rounds per extension
    grown = 0
    for size in SIZES:
        await fill(engine, size - grown)
        grown = size
        await tree.ensure(engine, size)
        leaves = await leaves_of(engine, size)
        async with engine.connect() as conn:
            assert await tree.stored_size(conn) == size
            whole, tail = await tree.roots(conn, [(0, size), (size // 3, size)])
            assert whole == merkle.root(leaves)
            assert tail == merkle.root(leaves[size // 3 :])
            proofs = await tree.inclusion_proofs(conn, list(range(size)), size)
            for index in range(size):
                assert proofs[index] == merkle.inclusion_proof(index, leaves), (size, index)
                assert merkle.verify_inclusion(index, size, leaves[index], proofs[index], whole)
            for old in range(1, size + 1):
                proof = await tree.consistency_proof(conn, old, size)
                assert proof == merkle.consistency_proof(old, leaves), (old, size)
                assert merkle.verify_consistency(old, size, merkle.root(leaves[:old]), whole, proof)
            # Proofs for an older, smaller tree come from the same stored nodes.
            smaller = max(1, size // 2)
            older = await tree.inclusion_proofs(conn, [0], smaller)
            assert older[0] == merkle.inclusion_proof(0, leaves[:smaller])


async def test_the_tree_stores_each_complete_subtree_once(engine: AsyncEngine) -> None:
    await fill(engine, 45)
    await tree.ensure(engine, 20)
    await tree.ensure(engine, 45)
    await tree.ensure(engine, 45)  # nothing new: nothing stored
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(audit_tree))).scalar_one()
    # n leaves have 2n - popcount(n) complete aligned subtrees.
    assert rows == 2 * 45 - bin(45).count("1")


@pytest.mark.parametrize("size", [2, 1000, 2**20, 2**20 + 1, 10**9 + 7])
def test_a_proof_reads_logarithmically_many_nodes(size: int) -> None:
    bound = 2 * math.ceil(math.log2(size)) + 1
    for index in {0, size // 2, size - 1}:
        ranges = merkle.inclusion_ranges(index, size)
        assert len({n for a, b in ranges for n in merkle.range_nodes(a, b)}) <= bound
    for old in {1, size // 3 or 1, size - 1 or 1}:
        ranges = merkle.consistency_ranges(old, size)
        assert len({n for a, b in ranges for n in merkle.range_nodes(a, b)}) <= bound


async def test_a_tree_lost_or_never_built_is_rebuilt_from_the_log(engine: AsyncEngine) -> None:
    # A database upgraded from before the stored tree has checkpoints and no nodes.
    await fill(engine, 30)
    await tree.ensure(engine, 30)
    async with engine.begin() as conn:
        await conn.execute(delete(audit_tree))
    await tree.ensure(engine, 30)
    leaves = await leaves_of(engine, 30)
    async with engine.connect() as conn:
        assert await tree.roots(conn, [(0, 30)]) == [merkle.root(leaves)]


async def test_a_log_with_a_hole_is_refused_not_sealed(engine: AsyncEngine) -> None:
    await fill(engine, 12)
    await behind_the_back(engine, "DELETE FROM audit_log WHERE seq = 7")
    with pytest.raises(LogBroken, match="lacks entries"):
        await tree.ensure(engine, 12)
    async with engine.connect() as conn:
        assert await tree.stored_size(conn) == 0  # nothing half written


async def test_proofs_beyond_the_stored_tree_are_refused(engine: AsyncEngine) -> None:
    await fill(engine, 10)
    await tree.ensure(engine, 6)
    async with engine.connect() as conn:
        with pytest.raises(LogBroken, match="lacks"):
            await tree.inclusion_proofs(conn, [9], 10)
