"""Content-addressed blob storage for images, recordings and PDFs.

`BlobStore` is the interface; `FileBlobStore` keeps blobs under a directory. A blob's
name is the SHA-256 of its bytes, so a stored blob can be checked against its name
at any time and writing the same content twice stores it once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from store.errors import BlobCorrupt, BlobNotFound, InvalidDigest

_DIGEST = re.compile(r"[0-9a-f]{64}")


def check_digest(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise InvalidDigest("a blob digest is 64 lowercase hexadecimal characters")
    return digest


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store `data`; return its SHA-256 hex digest."""
        ...

    async def get(self, digest: str) -> bytes:
        """Return the bytes stored under `digest`; BlobNotFound or BlobCorrupt if not."""
        ...

    async def exists(self, digest: str) -> bool: ...

    async def delete(self, digest: str) -> bool:
        """Remove the blob; False when it was not there."""
        ...


class FileBlobStore:
    """Blobs as files `<root>/<aa>/<bb>/<digest>`, written by temp file and rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self._put, data)

    async def get(self, digest: str) -> bytes:
        return await asyncio.to_thread(self._get, digest)

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(self.path_for(digest).is_file)

    async def delete(self, digest: str) -> bool:
        return await asyncio.to_thread(self._delete, digest)

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
        final = self.path_for(digest)
        if final.is_file():
            return digest
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        self._fsync_dir(final.parent)
        return digest

    def _get(self, digest: str) -> bytes:
        try:
            data = self.path_for(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {digest}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} no longer matches its digest")
        return data

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
