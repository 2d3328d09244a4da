"""Where an S3-compatible bucket of blobs is, parsed from settings without
loading an S3 client (the offline verifier reads settings too)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where the blobs are: `s3://bucket/prefix` on `endpoint_url` (AWS when empty)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)

    @classmethod
    def from_url(cls, url: str, **connection: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError("an S3 blob URL looks like s3://bucket or s3://bucket/prefix")
        prefix = parts.path.strip("/")
        return cls(bucket=parts.netloc, prefix=f"{prefix}/" if prefix else "", **connection)

    def within(self, namespace: str) -> S3Location:
        """The same bucket, under `namespace/` beneath this prefix."""
        return replace(self, prefix=f"{self.prefix}{namespace}/")
