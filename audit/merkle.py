"""RFC 6962 Merkle trees over audit entries: roots, inclusion and consistency proofs.

leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right); a tree of n
leaves splits at the largest power of two below n (RFC 6962 § 2.1).

Proofs are lists of subtree roots. Which subtrees they are depends only on the
index and the sizes (`inclusion_ranges`, `consistency_ranges`), so the same proof
can come from the leaves in memory or from the complete subtrees stored node by
node (audit/tree.py): every subtree a proof names splits into O(log n) complete,
aligned ones (`range_root`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

# A subtree as the leaf positions [start, end) it covers.
Range = tuple[int, int]
# A complete, aligned subtree: (level, position) covers leaves
# [position * 2**level, (position + 1) * 2**level).
Node = tuple[int, int]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """Root of the tree whose leaf hashes are `leaves` (iterative, any size)."""
    if not leaves:
        return EMPTY_ROOT
    # Fold the complete subtrees of the binary decomposition from the right.
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose roots are leaf `index`'s audit path (RFC 6962 § 2.1.1 PATH)."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            path.append((middle, end))
            end = middle
        else:
            path.append((start, middle))
            start = middle
    return path[::-1]  # the path runs from the leaf up


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [root(leaves[a:b]) for a, b in inclusion_ranges(index, len(leaves))]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 § 2.1.3.2: does `proof` place `leaf` at `index` in a tree with this root?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == expected_root


def consistency_ranges(old_size: int, size: int) -> list[Range]:
    """The subtrees whose roots prove the first `old_size` leaves a prefix (§ 2.1.2 PROOF)."""
    if not 0 < old_size <= size:
        raise ValueError("old size must be 1..new size")
    path: list[Range] = []
    start, end, m, complete = 0, size, old_size, True
    while m != end - start:
        middle = start + _split(end - start)
        if m <= middle - start:
            path.append((middle, end))
            end = middle
        else:
            path.append((start, middle))
            m -= middle - start
            start, complete = middle, False
    if not complete:
        path.append((start, end))
    return path[::-1]


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [root(leaves[a:b]) for a, b in consistency_ranges(old_size, len(leaves))]


def _complete(start: int, end: int) -> Node | None:
    """The stored node that is exactly [start, end), if the range is one."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        return size.bit_length() - 1, start // size
    return None


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees `range_root` reads for [start, end)."""
    if start >= end:
        return []
    node = _complete(start, end)
    if node is not None:
        return [node]
    middle = start + _split(end - start)
    return [*range_nodes(start, middle), *range_nodes(middle, end)]


def range_root(start: int, end: int, node: Callable[[Node], bytes]) -> bytes:
    """The root over leaves [start, end) from complete subtrees' roots.

    A range a proof or a tree names splits into complete aligned subtrees along
    its right edge only (O(log n) of them); any other range still works, down to
    single leaves in the worst case.
    """
    if start >= end:
        return EMPTY_ROOT
    complete = _complete(start, end)
    if complete is not None:
        return node(complete)
    middle = start + _split(end - start)
    return node_hash(range_root(start, middle, node), range_root(middle, end, node))


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 § 2.1.4.2: is the old tree a prefix of the new one?"""
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root starts the path
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
