"""What rides on Redis is JSON: job arguments are digests and plain values, so a
message on the queue can never carry code to run (arq's default is pickle)."""

from __future__ import annotations

import json
from typing import Any

QUEUE_NAME = "signroom:identity-checks"
# Each worker sets its own key here while it is alive (arq's health check).
WORKER_KEY = "signroom:worker:"
FUNCTION = "run_check"


def to_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def from_json(data: bytes) -> Any:
    return json.loads(data)
