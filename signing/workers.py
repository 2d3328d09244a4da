"""PDF validation in a worker process with a memory limit and a timeout.

Parsing an uploaded PDF is the riskiest thing the service does with outside
input; it never happens in the server process.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Protocol

from asn1crypto import x509 as asn1_x509

from signing.errors import PdfUnreadable, ValidationFailed
from signing.validation import validate_pdf
from workers.errors import WorkerCrashed, WorkTimedOut
from workers.pool import BoundedPool


def quiet_pyhanko_logs() -> None:
    """pyHanko logs certificate subjects (people's names) while it explores paths."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def validate_report(
    pdf: bytes, roots_der: list[bytes], at: datetime | None, allow_fetching: bool
) -> dict[str, Any]:
    """Runs in the worker: the report of a signroom contract (see validate_pdf)."""
    roots = [asn1_x509.Certificate.load(der) for der in roots_der]
    report = asyncio.run(validate_pdf(pdf, roots, at=at, allow_fetching=allow_fetching))
    return report.as_dict()


class PdfValidator(Protocol):
    """Validates signed PDFs: in this node's worker process or as jobs (jobs/)."""

    async def validate(
        self,
        pdf: bytes,
        roots_der: list[bytes],
        *,
        at: datetime | None = None,
        allow_fetching: bool = False,
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ValidationWorkers:
    def __init__(self, *, timeout_seconds: float, memory_limit_bytes: int) -> None:
        self._pool = BoundedPool(
            processes=1,
            timeout_seconds=timeout_seconds,
            memory_limit_bytes=memory_limit_bytes,
            initializer=quiet_pyhanko_logs,
        )

    async def validate(
        self,
        pdf: bytes,
        roots_der: list[bytes],
        *,
        at: datetime | None = None,
        allow_fetching: bool = False,
    ) -> dict[str, Any]:
        try:
            return await self._pool.run(validate_report, pdf, roots_der, at, allow_fetching)
        except WorkTimedOut:
            raise ValidationFailed("validating the document took too long") from None
        except WorkerCrashed:
            raise ValidationFailed("the document could not be processed") from None
        except PdfUnreadable:
            raise

    def close(self) -> None:
        self._pool.close()
