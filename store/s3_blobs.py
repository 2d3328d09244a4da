"""Content-addressed blobs in an S3-compatible bucket, for several nodes.

The same contract as `FileBlobStore`: a blob's key ends in the SHA-256 of its
bytes, writing the same content twice stores it once, every read is checked
against the name, and a retention delete removes the object. boto3 runs in
threads (its client is thread-safe); each call has connect and read timeouts, so
an unreachable store fails a request instead of hanging it.

Reading a blob to serve it in ranges (a recording being played) downloads it
once into a local cache, checked, and serves the file from there.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from store.blobs import check_digest, sha256_of_file
from store.errors import BlobCorrupt, BlobNotFound, BlobStoreUnavailable
from store.s3_location import S3Location

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    def __init__(self, location: S3Location, cache_dir: Path) -> None:
        self.location = location
        self.cache_dir = cache_dir
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=location.endpoint_url or None,
            region_name=location.region,
            aws_access_key_id=location.access_key or None,
            aws_secret_access_key=location.secret_key or None,
            config=Config(
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=32,
                # Path-style addressing: a bucket on a self-hosted endpoint has no DNS name.
                s3={"addressing_style": "path"},
            ),
        )

    def key_for(self, digest: str) -> str:
        check_digest(digest)
        return f"{self.location.prefix}blobs/{digest[:2]}/{digest[2:4]}/{digest}"

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self._put, data)

    async def put_file(self, path: Path) -> str:
        return await asyncio.to_thread(self._put_file, path)

    async def get(self, digest: str) -> bytes:
        return await asyncio.to_thread(self._get, digest)

    async def local_file(self, digest: str) -> Path:
        return await asyncio.to_thread(self._local_file, digest)

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(self._exists, digest)

    async def delete(self, digest: str) -> bool:
        return await asyncio.to_thread(self._delete, digest)

    async def check(self) -> None:
        """Raise BlobStoreUnavailable unless the bucket answers (for /readyz)."""
        await asyncio.to_thread(self._call, "head_bucket", Bucket=self.location.bucket)

    def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._client, operation)(**arguments)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                raise BlobNotFound(f"no object {arguments.get('Key', '')}") from None
            raise BlobStoreUnavailable(f"the object store refused {operation}: {code}") from None
        except BotoCoreError as exc:
            raise BlobStoreUnavailable(
                f"the object store is unreachable ({type(exc).__name__})"
            ) from None

    def _put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if not self._exists(digest):
            self._call(
                "put_object", Bucket=self.location.bucket, Key=self.key_for(digest), Body=data
            )
        return digest

    def _put_file(self, path: Path) -> str:
        digest = sha256_of_file(path)
        if not self._exists(digest):
            # upload_file sends a large recording in parts, none held in memory whole.
            self._call(
                "upload_file",
                Filename=str(path),
                Bucket=self.location.bucket,
                Key=self.key_for(digest),
            )
        return digest

    def _get(self, digest: str) -> bytes:
        key = self.key_for(digest)
        response = self._call("get_object", Bucket=self.location.bucket, Key=key)
        try:
            data: bytes = response["Body"].read()
        except BotoCoreError as exc:
            raise BlobStoreUnavailable(
                f"reading from the object store failed ({type(exc).__name__})"
            ) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} no longer matches its digest")
        return data

    def _local_file(self, digest: str) -> Path:
        check_digest(digest)
        cached = self.cache_dir / digest[:2] / digest
        if cached.is_file() and sha256_of_file(cached) == digest:
            return cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=cached.parent, prefix=".tmp-")
        os.close(fd)
        try:
            self._call(
                "download_file",
                Bucket=self.location.bucket,
                Key=self.key_for(digest),
                Filename=tmp_name,
            )
            if sha256_of_file(Path(tmp_name)) != digest:
                raise BlobCorrupt(f"blob {digest} no longer matches its digest")
            os.replace(tmp_name, cached)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        return cached

    def _exists(self, digest: str) -> bool:
        try:
            self._call("head_object", Bucket=self.location.bucket, Key=self.key_for(digest))
        except BlobNotFound:
            return False
        return True

    def _delete(self, digest: str) -> bool:
        check_digest(digest)
        if not self._exists(digest):
            return False
        self._call("delete_object", Bucket=self.location.bucket, Key=self.key_for(digest))
        (self.cache_dir / digest[:2] / digest).unlink(missing_ok=True)
        return True
