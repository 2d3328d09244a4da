import hashlib
from pathlib import Path

import pytest

from store.blobs import FileBlobStore
from store.errors import BlobCorrupt, BlobNotFound, InvalidDigest


async def test_put_returns_sha256_and_get_round_trips(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    data = b"\x00contract pdf bytes\xff" * 100
    digest = await store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert await store.get(digest) == data
    assert await store.exists(digest)
    assert store.path_for(digest) == tmp_path / "blobs" / digest[:2] / digest[2:4] / digest


async def test_same_content_is_stored_once_and_no_temp_files_remain(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    first = await store.put(b"same")
    second = await store.put(b"same")
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [store.path_for(first)]


async def test_missing_blob_is_not_found(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    with pytest.raises(BlobNotFound):
        await store.get("0" * 64)
    assert not await store.exists("0" * 64)


@pytest.mark.parametrize(
    "digest", ["", "abc", "G" * 64, "A" * 64, "../" + "0" * 61, "0" * 63 + "/", "0" * 65]
)
async def test_malformed_digests_are_refused_before_touching_the_disk(
    tmp_path: Path, digest: str
) -> None:
    store = FileBlobStore(tmp_path)
    with pytest.raises(InvalidDigest):
        await store.get(digest)


async def test_a_blob_altered_on_disk_is_reported_corrupt(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    digest = await store.put(b"original recording")
    store.path_for(digest).write_bytes(b"altered recording")
    with pytest.raises(BlobCorrupt):
        await store.get(digest)
