"""Content-addressed blob storage for images, recordings and PDFs.

`BlobStore` is the interface; `FileBlobStore` keeps blobs under a directory, and
`store.s3_blobs.S3BlobStore` in an S3-compatible bucket, for several nodes. A
blob's name is the SHA-256 of its bytes, so a stored blob can be checked against
its name at any time and writing the same content twice stores it once.

A deployment keeps a few namespaces apart (a subdirectory, or a key prefix):
biometric data away from identity documents (GB/T 35273-2020 6.3), and the
inputs of identity-check jobs, which live only as long as their job.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from store.errors import BlobCorrupt, BlobNotFound, BlobStoreUnavailable, InvalidDigest

_DIGEST = re.compile(r"[0-9a-f]{64}")

# Selfies, liveness clips and their stills.
BIOMETRICS = "biometrics"
# What a node hands a `signroom worker` to check; deleted once the job ends.
JOB_INPUTS = "job-inputs"


def check_digest(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise InvalidDigest("a blob digest is 64 lowercase hexadecimal characters")
    return digest


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store `data`; return its SHA-256 hex digest."""
        ...

    async def put_file(self, path: Path) -> str:
        """Store the file at `path` (a recording: too large to hold in memory)."""
        ...

    async def get(self, digest: str) -> bytes:
        """Return the bytes stored under `digest`; BlobNotFound or BlobCorrupt if not."""
        ...

    async def local_file(self, digest: str) -> Path:
        """A file on this node holding the blob, its digest checked (to stream or
        serve in ranges); BlobNotFound or BlobCorrupt if not."""
        ...

    async def exists(self, digest: str) -> bool: ...

    async def delete(self, digest: str) -> bool:
        """Remove the blob; False when it was not there."""
        ...

    async def check(self) -> None:
        """BlobStoreUnavailable unless blobs can be stored now (for /readyz)."""
        ...


@dataclass(frozen=True, slots=True)
class BlobNamespaces:
    """The main store and the biometric namespace, for code that handles both
    (retention, erasure)."""

    main: BlobStore
    biometrics: BlobStore


class FileBlobStore:
    """Blobs as files `<root>/<aa>/<bb>/<digest>`, written by temp file and rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self._put, data)

    async def put_file(self, path: Path) -> str:
        return await asyncio.to_thread(self._put_file, path)

    async def get(self, digest: str) -> bytes:
        return await asyncio.to_thread(self._get, digest)

    async def local_file(self, digest: str) -> Path:
        return await asyncio.to_thread(self._local_file, digest)

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(self.path_for(digest).is_file)

    async def delete(self, digest: str) -> bool:
        return await asyncio.to_thread(self._delete, digest)

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        existing = next((p for p in (self.root, *self.root.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            raise BlobStoreUnavailable(f"{self.root.name}: not writable")

    def _delete(self, digest: str) -> bool:
        path = self.path_for(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        self._fsync_dir(path.parent)
        return True

    def _put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self._write(digest, lambda tmp: tmp.write(data))
        return digest

    def _put_file(self, path: Path) -> str:
        digest = sha256_of_file(path)

        def copy(tmp: BinaryIO) -> None:
            with path.open("rb") as source:
                shutil.copyfileobj(source, tmp, 1024 * 1024)

        self._write(digest, copy)
        return digest

    def _write(self, digest: str, fill: Callable[[BinaryIO], object]) -> None:
        final = self.path_for(digest)
        if final.is_file():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                fill(tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        self._fsync_dir(final.parent)

    def _get(self, digest: str) -> bytes:
        try:
            data = self.path_for(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {digest}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} no longer matches its digest")
        return data

    def _local_file(self, digest: str) -> Path:
        path = self.path_for(digest)
        if not path.is_file():
            raise BlobNotFound(f"no blob {digest}")
        if sha256_of_file(path) != digest:
            raise BlobCorrupt(f"blob {digest} no longer matches its digest")
        return path

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
