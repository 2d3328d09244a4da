"""Which video calls exist, who is waiting, and writing what a call reports into the
audit log and the application's state.

Calls live in this process (media is node-local: a call's peer connections and
recordings are on the node that accepted it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.errors import LoanError
from loans.states import Action, State
from media.call import Call, CallSettings


class AuditedCallEvents:
    """CallEvents for one application: each event is an audit entry by the system;
    the end of a call that did not reach signing returns the case to
    identity_verified so another call can be held."""

    def __init__(self, engine: AsyncEngine, application_id: str, registry: CallRegistry) -> None:
        self.engine = engine
        self.application_id = application_id
        self.registry = registry

    async def record(self, action: str, details: Mapping[str, object]) -> None:
        async with self.engine.begin() as conn:
            await audit.append(
                conn,
                SYSTEM_PRINCIPAL.actor,
                action,
                application_id=self.application_id,
                details=details,
            )

    async def ended(self, reason: str) -> None:
        self.registry.forget(self.application_id)
        app = await apps.get_application(self.engine, SYSTEM_PRINCIPAL, self.application_id)
        if app.state is State.IN_INTERVIEW:
            # A concurrent change (cancelled meanwhile) leaves nothing to undo.
            with contextlib.suppress(LoanError):
                await apps.act(
                    self.engine,
                    SYSTEM_PRINCIPAL,
                    self.application_id,
                    Action.INTERRUPT_INTERVIEW,
                    comment=f"call ended: {reason}",
                )


@dataclass
class CallRegistry:
    settings: CallSettings
    calls: dict[str, Call] = field(default_factory=dict)
    waiting: dict[str, datetime] = field(default_factory=dict)

    def wait(self, application_id: str) -> datetime:
        return self.waiting.setdefault(application_id, datetime.now(UTC))

    def start(self, engine: AsyncEngine, application_id: str) -> Call:
        self.waiting.pop(application_id, None)
        call = self.calls.get(application_id)
        if call is None or call.ended:
            call = Call(
                application_id, self.settings, AuditedCallEvents(engine, application_id, self)
            )
            self.calls[application_id] = call
        return call

    def get(self, application_id: str) -> Call | None:
        call = self.calls.get(application_id)
        return None if call is None or call.ended else call

    def forget(self, application_id: str) -> None:
        self.calls.pop(application_id, None)

    async def close(self) -> None:
        for call in list(self.calls.values()):
            await call.end("server_shutdown")
