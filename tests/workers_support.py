"""Functions the worker-pool tests run in child processes (importable by pickling)."""

from __future__ import annotations

import os
import time


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()
