"""The blob stores' one contract, on a directory and on a real S3 server
(SeaweedFS, started by the test session): content addressing, digest re-check
on every read, deletes, and refusal of malformed names before any I/O."""

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from localcluster.seaweedfs import SeaweedServer
from store.blobs import BlobStore, FileBlobStore
from store.errors import BlobCorrupt, BlobNotFound, BlobStoreUnavailable, InvalidDigest
from store.s3_blobs import S3BlobStore
from store.s3_location import S3Location


def s3_store(server: SeaweedServer, tmp_path: Path, prefix: str | None = None) -> S3BlobStore:
    location = S3Location.from_url(
        f"s3://{server.bucket}/{prefix or uuid.uuid4().hex}",
        endpoint_url=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        region=server.region,
    )
    return S3BlobStore(location, tmp_path / "cache")


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.cluster)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "file":
        yield FileBlobStore(tmp_path / "blobs")
    else:
        yield s3_store(request.getfixturevalue("s3_server"), tmp_path)


def corrupt(store: BlobStore, digest: str, data: bytes, server: SeaweedServer | None) -> None:
    """Change the stored bytes behind the store's back."""
    if isinstance(store, FileBlobStore):
        store.path_for(digest).write_bytes(data)
    else:
        assert isinstance(store, S3BlobStore) and server is not None
        server.client().put_object(Bucket=server.bucket, Key=store.key_for(digest), Body=data)


async def test_put_returns_sha256_and_get_round_trips(store: BlobStore) -> None:
    data = b"\x00contract pdf bytes\xff" * 100
    digest = await store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert await store.get(digest) == data
    assert await store.exists(digest)


async def test_a_file_is_stored_under_its_digest_and_read_back_as_a_local_file(
    store: BlobStore, tmp_path: Path
) -> None:
    recording = tmp_path / "segment.webm"
    recording.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: sent in parts to S3
    digest = await store.put_file(recording)
    assert digest == hashlib.sha256(recording.read_bytes()).hexdigest()
    local = await store.local_file(digest)
    assert local.read_bytes() == recording.read_bytes()
    assert await store.get(digest) == recording.read_bytes()


async def test_a_file_blob_lives_at_its_digests_path(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    digest = await store.put(b"x")
    assert store.path_for(digest) == tmp_path / "blobs" / digest[:2] / digest[2:4] / digest


async def test_same_content_is_stored_once_and_no_temp_files_remain(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    first = await store.put(b"same")
    second = await store.put(b"same")
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [store.path_for(first)]


@pytest.mark.cluster
async def test_the_same_content_is_one_object_in_the_bucket(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex
    store = s3_store(s3_server, tmp_path, prefix)
    assert await store.put(b"same") == await store.put(b"same")
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
    assert [item["Key"] for item in listed["Contents"]] == [store.key_for(await store.put(b"same"))]


async def test_missing_blob_is_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.get("0" * 64)
    with pytest.raises(BlobNotFound):
        await store.local_file("0" * 64)
    assert not await store.exists("0" * 64)


async def test_a_deleted_blob_is_gone_and_deleting_again_says_so(store: BlobStore) -> None:
    digest = await store.put(b"retention runs out")
    await store.local_file(digest)
    assert await store.delete(digest) is True
    assert not await store.exists(digest)
    with pytest.raises(BlobNotFound):
        await store.local_file(digest)
    assert await store.delete(digest) is False


@pytest.mark.parametrize(
    "digest", ["", "abc", "G" * 64, "A" * 64, "../" + "0" * 61, "0" * 63 + "/", "0" * 65]
)
async def test_malformed_digests_are_refused_before_any_io(store: BlobStore, digest: str) -> None:
    for read in (store.get, store.exists, store.delete, store.local_file):
        with pytest.raises(InvalidDigest):
            await read(digest)


async def test_a_blob_altered_in_storage_is_reported_corrupt(
    store: BlobStore, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue("s3_server") if isinstance(store, S3BlobStore) else None
    digest = await store.put(b"original recording")
    corrupt(store, digest, b"altered recording", server)
    with pytest.raises(BlobCorrupt):
        await store.get(digest)
    with pytest.raises(BlobCorrupt):
        await store.local_file(digest)


@pytest.mark.cluster
async def test_an_unreachable_store_fails_fast_with_its_own_error(tmp_path: Path) -> None:
    location = S3Location.from_url(
        "s3://signroom", endpoint_url="http://127.0.0.1:9", access_key="k", secret_key="s"
    )
    store = S3BlobStore(location, tmp_path)
    with pytest.raises(BlobStoreUnavailable):
        await store.put(b"nowhere to go")
    with pytest.raises(BlobStoreUnavailable):
        await store.check()


@pytest.mark.cluster
async def test_wrong_credentials_are_refused_by_the_server(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    location = S3Location.from_url(
        f"s3://{s3_server.bucket}",
        endpoint_url=s3_server.endpoint,
        access_key="someone",
        secret_key="else",
    )
    with pytest.raises(BlobStoreUnavailable):
        await S3BlobStore(location, tmp_path).put(b"not theirs")


@pytest.mark.parametrize("url", ["s3://", "file:///tmp", "s3:/bucket", "https://bucket"])
def test_a_malformed_s3_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="s3://bucket"):
        S3Location.from_url(url)
