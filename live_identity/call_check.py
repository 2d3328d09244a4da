"""Liveness and face match on the running call, on the node that hosts it: the
challenges the server times, judged on the frames of the call's own tap, the
prompts and verdicts sent to both pages over the call's signalling. For the fresh
check at signing and for the manager's re-check during the interview.

The call's recording is the evidence: the record names the applicant's segment
(its file; the call's own sealed entry gives its hash when it closes) and the
media time range of the frames, with `"source": "call"`.

To both pages: {"type": "live_check", "attempt_id": ..., "phase": "prompt" |
"verdict" | "result" | "interrupted", ...} and {"type": "document_check", "kind":
..., "phase": "request" | "reading" | "result" | "interrupted", ...}.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from audit import log as audit
from kyc.records import LivenessAttempt, StoredReading
from kyc.workers import DocumentKind
from live_identity.actions import LiveIdentityAction
from live_identity.challenges import LiveChallenges, Tell
from live_identity.document_check import check_shown_document
from live_identity.session import TAP_FPS
from live_identity.verdict import LiveServices, judge_run, record_run
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.models import Application
from loans.states import Action, State
from media.call import Call, Side
from media.tap import FrameTap

log = logging.getLogger(__name__)

SOURCE = "call"


def _teller(call: Call, kind: str, **fields: object) -> Tell:
    """Tell both pages, as a `kind` message whose phase is the message's type."""

    async def tell(message: Mapping[str, object]) -> None:
        await call.tell_all({**message, **fields, "type": kind, "phase": message.get("type")})

    return tell


class CallChecks:
    """The checks running on this node's calls, at most one per call."""

    def __init__(self, services: LiveServices) -> None:
        self.services = services
        # Per call: how to stop its check, and the check.
        self._running: dict[str, tuple[Callable[[], None], asyncio.Task[None]]] = {}

    def busy(self, call: Call) -> bool:
        return call.id in self._running

    def start(
        self,
        call: Call,
        attempt: LivenessAttempt,
        id_front_sha256: str,
        *,
        requested_by: audit.Actor,
        request_id: str | None = None,
    ) -> bool:
        """Start a liveness check on `call`; False when a check runs there already."""

        def tap() -> FrameTap | None:
            current = None if call.ended else call.tap
            # The call's tap runs at a few frames a second; blinks need more.
            if current is not None and current.fps < TAP_FPS:
                current.set_rate(TAP_FPS)
            return current

        tell = _teller(call, "live_check", attempt_id=attempt.id)
        checks = LiveChallenges(
            tap, self.services.judge, window=self.services.window_seconds, tell=tell
        )

        async def work() -> dict[str, Any]:
            return await self._run(call, checks, attempt, id_front_sha256, requested_by, request_id)

        return self._start(call, work, tell, checks.stop)

    def start_document(
        self,
        call: Call,
        kind: DocumentKind,
        application: Application,
        uploaded: StoredReading,
        *,
        requested_by: audit.Actor,
        request_id: str | None = None,
    ) -> bool:
        """Ask for `kind` held up to the camera and check it (document_check.py);
        False when a check runs on `call` already."""
        tell = _teller(call, "document_check")
        stopped = asyncio.Event()

        async def work() -> dict[str, Any]:
            return await check_shown_document(
                self.services,
                call,
                kind,
                application,
                uploaded,
                tell=tell,
                stopped=stopped,
                requested_by=requested_by,
                request_id=request_id,
            )

        return self._start(call, work, tell, stopped.set)

    def _start(
        self,
        call: Call,
        work: Callable[[], Awaitable[dict[str, Any]]],
        tell: Tell,
        stop: Callable[[], None],
    ) -> bool:
        if self.busy(call):
            return False

        async def run() -> None:
            try:
                await tell(await work())
            except Exception:
                log.exception("a check on a call failed")
                await tell({"type": "interrupted", "reason": "server_error"})
            finally:
                self._running.pop(call.id, None)
                if call.tap is not None:
                    call.tap.set_rate(call.settings.tap_fps)

        self._running[call.id] = (stop, asyncio.ensure_future(run()))
        return True

    async def _run(
        self,
        call: Call,
        checks: LiveChallenges,
        attempt: LivenessAttempt,
        id_front_sha256: str,
        requested_by: audit.Actor,
        request_id: str | None,
    ) -> dict[str, Any]:
        applicant = call.participants.get(Side.APPLICANT)
        connection = applicant.connection if applicant is not None else None
        segment = (
            {
                "side": Side.APPLICANT.value,
                "segment": connection.index,
                "file": connection.recorder.path.name,
            }
            if connection is not None
            else None
        )
        live = await checks.run(attempt.challenges)
        if call.ended or live.problem in ("no_video", "stopped"):
            reason = "call_ended" if call.ended else live.problem or "stopped"
            async with self.services.engine.begin() as conn:
                await audit.append(
                    conn,
                    requested_by,
                    LiveIdentityAction.CALL_CHECK_INTERRUPTED,
                    application_id=attempt.application_id,
                    request_id=request_id,
                    details={"attempt_id": attempt.id, "reason": reason},
                )
            return {"type": "interrupted", "reason": reason}
        passed, result = await judge_run(self.services, live, id_front_sha256)
        result["source"] = SOURCE
        result["call_segment"] = segment
        result["requested_by"] = {"id": requested_by.id, "role": requested_by.role}
        body = await record_run(
            self.services,
            requested_by,
            attempt,
            passed=passed,
            result=result,
            id_front_sha256=id_front_sha256,
            video_sha256="",
            request_id=request_id,
        )
        if body.get("application_state") == State.IDENTITY_VERIFIED.value:
            # Verified in the manager check's call: the interview goes on in it.
            started = await apps.act(
                self.services.engine,
                SYSTEM_PRINCIPAL,
                attempt.application_id,
                Action.START_INTERVIEW,
                request_id=request_id,
            )
            body["application_state"] = started.state.value
        return body

    async def close(self) -> None:
        for stop, _task in list(self._running.values()):
            stop()
        await asyncio.gather(*(task for _c, task in self._running.values()), return_exceptions=True)
