"""The verification sessions running on this node. A session lives on the node
whose socket opened it (its media comes to that node's address); a new session
for the same application interrupts the older one; on shutdown every session
ends without a verdict, and its run is awaited, never cancelled mid-write."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from audit import log as audit
from kyc.liveness import Challenge
from kyc.records import LivenessAttempt
from live_identity.errors import SessionBusy
from live_identity.session import VerificationSession
from live_identity.verdict import LiveServices
from media.call import Notify

log = logging.getLogger(__name__)


class VerificationSessions:
    def __init__(self, services: LiveServices) -> None:
        self.services = services
        self._running: dict[str, tuple[VerificationSession, asyncio.Task[dict[str, Any]]]] = {}
        self._closing = False

    def __len__(self) -> int:
        return len(self._running)

    async def open(
        self,
        attempt: LivenessAttempt,
        id_front_sha256: str,
        challenges: list[Challenge],
        *,
        actor: audit.Actor,
        user: str,
        notify: Notify,
        finished: Callable[[dict[str, Any]], Awaitable[None]],
        request_id: str | None = None,
    ) -> VerificationSession:
        """Start a session: joined, its challenges running; `finished` gets what
        the page is told at the end."""
        if self._closing:
            raise SessionBusy("this node is shutting down; connect again")
        application_id = attempt.application_id
        older = self._running.get(application_id)
        if older is not None:
            older[0].interrupt("replaced")
            await asyncio.shield(older[1])
        session = VerificationSession(
            self.services,
            attempt,
            id_front_sha256,
            actor=actor,
            user=user,
            notify=notify,
            request_id=request_id,
        )
        await session.join()

        async def run() -> dict[str, Any]:
            try:
                try:
                    outcome = await session.run(challenges)
                except Exception:
                    # Each record is one transaction: nothing is left half written.
                    log.exception("verification session of an application failed")
                    outcome = {"type": "interrupted", "reason": "server_error"}
                await finished(outcome)
                return outcome
            finally:
                if self._running.get(application_id, (None,))[0] is session:
                    del self._running[application_id]

        self._running[application_id] = (session, asyncio.ensure_future(run()))
        return session

    async def wait(self, session: VerificationSession) -> None:
        """Until the session's run is over (shielded: the caller's cancellation
        never cuts a run short)."""
        running = self._running.get(session.application_id)
        if running is not None and running[0] is session:
            await asyncio.shield(asyncio.gather(running[1], return_exceptions=True))

    async def close(self) -> None:
        self._closing = True
        for session, _task in list(self._running.values()):
            session.interrupt("shutdown")
        await asyncio.gather(*(task for _s, task in self._running.values()), return_exceptions=True)
