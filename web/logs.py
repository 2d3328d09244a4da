"""The access log: it never records invite tokens or query strings (which may carry
personal data). The log's format is config/logs.py's."""

from __future__ import annotations

import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from web.keys import REQUEST_ID

_INVITE_PATH = re.compile(r"^/i/[^/]+")


def redact_path(path: str) -> str:
    return _INVITE_PATH.sub("/i/<token>", path)


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
