"""Logging setup: libraries that would log personal data stay quiet at any level."""

from __future__ import annotations

import logging

from config.logs import configure_logging


def test_debug_logging_keeps_database_parameters_out() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("DEBUG")
        for name in ("aiosqlite", "sqlalchemy.engine", "pyhanko", "pyhanko_certvalidator"):
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
