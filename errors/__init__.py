"""The one shape of signroom's domain errors.

Every package's errors live in its own ``errors.py`` and derive from
`SignroomError`: a sentence for people (``message``), a stable machine-readable
``code`` per class, and keyword ``details`` naming what was wrong (a field, a
step, a state). web/errors.py maps classes to HTTP statuses in one table, walked
up the class hierarchy, and sends ``code``, ``message`` and ``details`` as they
are. This package imports nothing of signroom, so every package may use it.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SignroomError(Exception):
    code: ClassVar[str] = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
