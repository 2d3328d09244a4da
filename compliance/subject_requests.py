"""Data subjects' requests (PIPL Art. 44-47), recorded as tasks with the date they
are due by and carried out on the same sealed, audited paths as everything else:

- access: the applicant's personal-data package (GET .../personal-data.zip), each
  export audited; completing the task records that it was sent;
- correction: the manager corrects the application with a reason; completing
  the task records what was corrected;
- deletion: the case's document photos, biometric data and recordings are
  deleted as retention deletes them, one sealed entry per kind naming each file;
  once a contract is signed the bank keeps them under its record-keeping
  obligation, and the task is refused with that reason;
- withdrawal: of the biometric consent, as if the applicant had withdrawn it on
  the page (the biometric data deleted before signing).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from compliance.actions import ComplianceAction
from compliance.erasure import erase
from compliance.errors import SubjectRequestClosed, SubjectRequestNotFound
from compliance.retention import DataKind
from loans.consent import withdraw_biometrics_on_request
from loans.states import State
from store.blobs import BlobNamespaces
from store.database import read_only
from store.schema import subject_requests

# GB/T 35273-2020 8.7: answer within 15 working days; three weeks covers them.
ANSWER_WITHIN = timedelta(days=21)


class RequestKind(StrEnum):
    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"
    WITHDRAWAL = "withdrawal"


class RequestStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    # Not carried out, with the reason (a signed contract's evidence is kept).
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class SubjectRequest:
    id: str
    application_id: str
    kind: RequestKind
    status: RequestStatus
    note: str
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None
    outcome: dict[str, Any] | None

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "status": self.status.value,
            "note": self.note,
            "received_at": self.received_at.isoformat(timespec="seconds"),
            "due_at": self.due_at.isoformat(timespec="seconds"),
            "overdue": self.status is RequestStatus.OPEN and self.due_at < now,
            "completed_at": self.completed_at.isoformat(timespec="seconds")
            if self.completed_at
            else None,
            "outcome": self.outcome,
        }


def _from_row(row: Any) -> SubjectRequest:
    return SubjectRequest(
        row.id,
        row.application_id,
        RequestKind(row.kind),
        RequestStatus(row.status),
        row.note,
        row.received_at,
        row.due_at,
        row.completed_at,
        json.loads(row.outcome) if row.outcome else None,
    )


async def record_request(
    engine: AsyncEngine,
    actor: audit.Actor,
    application_id: str,
    kind: RequestKind,
    note: str,
    request_id: str | None = None,
) -> SubjectRequest:
    now = datetime.now(UTC)
    task = SubjectRequest(
        str(uuid.uuid4()),
        application_id,
        kind,
        RequestStatus.OPEN,
        note,
        now,
        now + ANSWER_WITHIN,
        None,
        None,
    )
    async with engine.begin() as conn:
        await conn.execute(
            subject_requests.insert().values(
                id=task.id,
                application_id=application_id,
                kind=kind.value,
                status=task.status.value,
                note=note,
                received_at=now,
                due_at=task.due_at,
            )
        )
        await audit.append(
            conn,
            actor,
            ComplianceAction.SUBJECT_REQUEST_RECORDED,
            application_id=application_id,
            request_id=request_id,
            details={
                "subject_request": task.id,
                "kind": kind.value,
                "due_at": task.due_at.isoformat(timespec="seconds"),
            },
            at=now,
        )
    return task


async def list_requests(engine: AsyncEngine, application_id: str) -> list[SubjectRequest]:
    async with read_only(engine) as conn:
        rows = await conn.execute(
            select(subject_requests)
            .where(subject_requests.c.application_id == application_id)
            .order_by(subject_requests.c.received_at)
        )
        return [_from_row(row) for row in rows]


async def get_request(engine: AsyncEngine, application_id: str, task_id: str) -> SubjectRequest:
    async with read_only(engine) as conn:
        row = (
            await conn.execute(
                select(subject_requests).where(
                    subject_requests.c.id == task_id,
                    subject_requests.c.application_id == application_id,
                )
            )
        ).first()
    if row is None:
        raise SubjectRequestNotFound("no such request for this application")
    return _from_row(row)


async def complete_request(
    engine: AsyncEngine,
    stores: BlobNamespaces,
    actor: audit.Actor,
    task: SubjectRequest,
    state: State,
    note: str,
    request_id: str | None = None,
) -> SubjectRequest:
    """Carry out the request (deletion, withdrawal) or record that it was (access,
    correction); a deletion after signing is refused with the reason."""
    if task.status is not RequestStatus.OPEN:
        raise SubjectRequestClosed("this request has been answered already")
    outcome: dict[str, Any] = {"note": note}
    status = RequestStatus.DONE
    if task.kind is RequestKind.DELETION:
        erased = await erase(
            engine,
            stores,
            actor,
            task.application_id,
            state,
            (DataKind.IMAGES, DataKind.BIOMETRICS, DataKind.RECORDINGS),
            reason="erasure_request",
            request_id=request_id,
        )
        outcome |= erased.as_json()
        if erased.kept_for_contract:
            status = RequestStatus.REFUSED
            outcome["reason"] = "signed_contract_kept_under_record_keeping_obligation"
    elif task.kind is RequestKind.WITHDRAWAL:
        outcome["withdrawn"] = await withdraw_biometrics_on_request(
            engine, actor, task.application_id, request_id
        )
        erased = await erase(
            engine,
            stores,
            actor,
            task.application_id,
            state,
            (DataKind.BIOMETRICS,),
            reason="consent_withdrawn",
            request_id=request_id,
        )
        outcome |= erased.as_json()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        changed = await conn.execute(
            update(subject_requests)
            .where(
                subject_requests.c.id == task.id,
                subject_requests.c.status == RequestStatus.OPEN.value,
            )
            .values(status=status.value, completed_at=now, outcome=json.dumps(outcome))
        )
        if changed.rowcount != 1:
            raise SubjectRequestClosed("this request has been answered already")
        await audit.append(
            conn,
            actor,
            ComplianceAction.SUBJECT_REQUEST_COMPLETED,
            application_id=task.application_id,
            request_id=request_id,
            details={
                "subject_request": task.id,
                "kind": task.kind.value,
                "status": status.value,
                "outcome": outcome,
            },
            at=now,
        )
    return SubjectRequest(
        task.id,
        task.application_id,
        task.kind,
        status,
        task.note,
        task.received_at,
        task.due_at,
        now,
        outcome,
    )
