"""Contract templates run in a worker process with time and memory limits.

A template is code an admin wrote: a nested loop or a huge expansion must cost
one worker, never the event loop or a thread that cannot be stopped. Both the
check when a template is saved and every render of a real contract run here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from signing.contract.render import (
    ContractTerms,
    RenderedContract,
    check_template,
    register_font,
    render_contract,
)
from signing.errors import TemplateInvalid
from workers.errors import WorkerCrashed, WorkTimedOut
from workers.pool import BoundedPool

T = TypeVar("T")


class ContractRenderer:
    def __init__(self, *, timeout_seconds: float, memory_limit_bytes: int) -> None:
        self.timeout = timeout_seconds
        self._pool = BoundedPool(
            processes=1,
            timeout_seconds=timeout_seconds,
            memory_limit_bytes=memory_limit_bytes,
            initializer=register_font,
        )

    async def check(self, body: str) -> None:
        """Refuse (TemplateInvalid) a template that cannot lay out a sample contract."""
        await self._run(check_template, body)

    async def render(self, body: str, version: int, terms: ContractTerms) -> RenderedContract:
        return await self._run(render_contract, body, version, terms)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return await self._pool.run(function, *args)
        except WorkTimedOut:
            raise TemplateInvalid(
                f"the template took longer than {self.timeout:g} s to render", step="render"
            ) from None
        except WorkerCrashed:
            raise TemplateInvalid(
                "the template needs more memory than a contract may take", step="render"
            ) from None

    def close(self) -> None:
        self._pool.close()
