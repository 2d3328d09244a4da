"""Errors raised by the storage layer."""

from __future__ import annotations

from errors import SignroomError


class StoreError(SignroomError):
    code = "store_error"


class BlobNotFound(StoreError):
    """No blob with the requested digest exists."""


class InvalidDigest(StoreError):
    """A digest is not 64 lowercase hex characters."""


class UnsupportedDatabase(StoreError):
    """The database URL names a backend signroom does not run on."""


class BlobCorrupt(StoreError):
    """A stored blob's bytes no longer hash to its name."""


class BlobStoreUnavailable(StoreError):
    """The object store could not be reached or refused the request."""

    code = "blob_store_unavailable"
