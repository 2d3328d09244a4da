"""Logging setup: one JSON object per line, and an access log that never records
invite tokens or query strings (which may carry personal data)."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from signing.workers import quiet_pyhanko_logs
from web.keys import REQUEST_ID

_INVITE_PATH = re.compile(r"^/i/[^/]+")


def redact_path(path: str) -> str:
    return _INVITE_PATH.sub("/i/<token>", path)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic narrates every schema check (/readyz runs one) at INFO.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    quiet_pyhanko_logs()
    # Their DEBUG lines carry SQL parameters, i.e. personal data, whatever our level.
    for name in ("aiosqlite", "sqlalchemy.engine", "asyncpg"):
        logging.getLogger(name).setLevel(logging.WARNING)


class AccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = redact_path(request.path)
        self.logger.info(
            "%s %s %s",
            request.method,
            path,
            response.status,
            extra={
                "request_id": request.get(REQUEST_ID),
                "method": request.method,
                "path": path,
                "status": response.status,
                "duration_ms": round(time * 1000, 1),
            },
        )
