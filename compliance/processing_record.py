"""What personal information the bank processes, for its impact assessment (PIPL
Art. 55-56) and the face recognition rules' processing records and filing:

- per case, a record of what was processed, on which legal basis and consent
  version, what was deleted, and when each kind of data is due for deletion;
- across cases, how many distinct people's face data is held now (filing with
  the authorities is due once it covers 100,000 people).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import entries_for_application
from compliance.actions import DELETIONS
from compliance.retention import (
    DataKind,
    RetentionPolicy,
    biometric_digests,
    document_image_digests,
    expired_digests,
)
from compliance.review_timeline import segments
from kyc.records import latest_readings
from kyc.source_checks import latest_source_checks
from loans.consent import consent_history
from loans.states import TERMINAL_STATES
from store.database import read_only
from store.schema import (
    applications,
    audit_log,
    face_matches,
    kyc_documents,
    liveness_attempts,
)

# The face recognition rules (2025) ask for filing once stored face data covers
# this many people.
FILING_THRESHOLD = 100_000


async def processing_record(
    engine: AsyncEngine, application_id: str, policy: RetentionPolicy
) -> dict[str, Any]:
    """One case's processing record. Names categories, counts and hashes; never
    the values (the personal-data package is the applicant's own copy)."""
    async with read_only(engine) as conn:
        app = (
            await conn.execute(
                select(
                    applications.c.state, applications.c.created_at, applications.c.updated_at
                ).where(applications.c.id == application_id)
            )
        ).one()
        entries = await entries_for_application(conn, application_id, limit=100_000)
    deleted = expired_digests(entries)
    readings = await latest_readings(engine, application_id)
    held = {
        DataKind.IMAGES: await document_image_digests(engine, application_id),
        DataKind.BIOMETRICS: await biometric_digests(engine, application_id),
        DataKind.RECORDINGS: {s.sha256 for s in segments(entries)},
    }
    closed = app.state in TERMINAL_STATES
    return {
        "application_id": application_id,
        "state": app.state,
        "opened_at": app.created_at.isoformat(timespec="seconds"),
        "closed_at": app.updated_at.isoformat(timespec="seconds") if closed else None,
        "consents": [c.as_json() for c in await consent_history(engine, application_id)],
        "processed": {
            "application": "company, legal representative, phone, loan terms",
            "documents": {kind: sorted(r.fields) for kind, r in sorted(readings.items())},
            "outside_sources": {
                kind.value: {"source": check.source, "verdict": check.verdict.value}
                for kind, check in (await latest_source_checks(engine, application_id)).items()
            },
        },
        "data": {
            kind.value: {
                "files": len(digests),
                "deleted": len(digests & deleted),
                "retention_days": policy.period(kind).days,
                "due_for_deletion": (app.updated_at + policy.period(kind)).isoformat(
                    timespec="seconds"
                )
                if closed
                else "after the case closes",
            }
            for kind, digests in held.items()
        },
        "deletions": [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "action": e.action,
                "kind": e.details.get("kind"),
                "reason": e.details.get("reason", "retention"),
                "files": len(e.details.get("items") or []),
            }
            for e in entries
            if e.action in DELETIONS
        ],
    }


async def people_with_face_data(engine: AsyncEngine) -> int:
    """Distinct people (by the ID number read from their card, else the case) some
    of whose selfies, liveness clips or stills are still held."""
    async with read_only(engine) as conn:
        cases = set(
            (await conn.execute(select(face_matches.c.application_id).distinct())).scalars()
        ) | set(
            (await conn.execute(select(liveness_attempts.c.application_id).distinct())).scalars()
        )
        deletions = [
            (row.application_id, json.loads(row.details))
            for row in await conn.execute(
                select(audit_log.c.application_id, audit_log.c.details).where(
                    audit_log.c.action.in_([str(a) for a in DELETIONS])
                )
            )
        ]
        fronts = {
            row.application_id: json.loads(row.fields)
            for row in await conn.execute(
                select(kyc_documents.c.application_id, kyc_documents.c.fields)
                .where(kyc_documents.c.kind == "id_front")
                .order_by(kyc_documents.c.created_at)
            )
        }
    gone: dict[str, set[str]] = {}
    for application_id, details in deletions:
        for item in details.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                gone.setdefault(application_id, set()).add(item["sha256"])
    people = set()
    for application_id in cases:
        if not await biometric_digests(engine, application_id) - gone.get(application_id, set()):
            continue
        number = (fronts.get(application_id) or {}).get("id_number", {}).get("value")
        # A hash, so the count never holds the number itself.
        people.add(hashlib.sha256(str(number or application_id).encode()).hexdigest())
    return len(people)
