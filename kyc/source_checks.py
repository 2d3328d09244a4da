"""Asking the outside sources about an application's documents and keeping what
they said: the identity platform about the ID card's number and the application's
legal representative, the business registry about the licence's credit code (its
entry then compared with what the licence reads and that the company is in
business).

An answer is kept with its audit entry in one transaction; the audit entry names
the source, the verdict and the request id, never the ID number. A source that
cannot be asked leaves an `unavailable` answer, which never counts as a pass: the
next upload of the document asks again.
"""

from __future__ import annotations

import json
import logging
import unicodedata
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from kyc.actions import KycAction
from kyc.fields import Check
from kyc.records import StoredReading, latest_readings
from kyc.sources import (
    BusinessRegistry,
    IdentitySource,
    IdentitySources,
    SourceAnswer,
    SourceKind,
    SourceUnavailable,
    SourceVerdict,
)
from kyc.workers import DocumentKind
from store.database import read_only
from store.schema import source_checks

log = logging.getLogger("signroom.kyc.sources")

# What registries print for a company that trades (企业信用信息公示系统's 登记状态);
# 注销, 吊销, 撤销, 迁出 and 停业 are not.
IN_BUSINESS = frozenset({"存续", "在业", "开业", "正常", "active"})


@dataclass(frozen=True, slots=True)
class StoredSourceCheck:
    id: str
    kind: SourceKind
    source: str
    document_id: str
    verdict: SourceVerdict
    reference: str
    record: dict[str, str]
    checks: list[Check]
    passed: bool
    checked_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "source": self.source,
            "document_id": self.document_id,
            "verdict": self.verdict.value,
            "reference": self.reference,
            "record": dict(self.record),
            "checks": [check.as_json() for check in self.checks],
            "passed": self.passed,
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
        }


def _same(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).split())

    return norm(a) == norm(b)


def identity_checks(answer: SourceAnswer) -> list[Check]:
    return [
        Check.of(
            "identity_source",
            answer.verdict is SourceVerdict.MATCH,
            f"identity_source_{answer.verdict.value}",
        )
    ]


def registry_checks(answer: SourceAnswer, reading: StoredReading) -> list[Check]:
    """The entry exists and trades, and its name and legal representative are the
    ones the licence reads."""
    if answer.verdict is not SourceVerdict.MATCH:
        return [Check.of("registry_record", False, f"registry_{answer.verdict.value}")]
    status = answer.record.get("status", "")
    checks = [
        Check.of("registry_in_business", True, "registry_in_business", status=status)
        if status in IN_BUSINESS
        else Check.of("registry_in_business", False, "registry_not_in_business", status=status)
    ]
    for field_name, check_name in (
        ("company_name", "registry_company_name"),
        ("legal_representative", "registry_legal_representative"),
    ):
        registered = answer.record.get(field_name, "")
        read = reading.fields.get(field_name)
        shown = read.value if read is not None else "(unread)"
        if read is not None and registered and _same(read.value, registered):
            checks.append(Check.of(check_name, True, f"{check_name}_matches"))
        else:
            checks.append(
                Check.of(
                    check_name, False, f"{check_name}_differs", read=shown, registered=registered
                )
            )
    return checks


async def _ask(kind: SourceKind, source_name: str, asking: Any) -> SourceAnswer:
    try:
        answer: SourceAnswer = await asking
    except SourceUnavailable as exc:
        # The cause (timeout, status, bad signature): never the data sent.
        log.warning("%s source %s unavailable: %s", kind.value, source_name, exc)
        return SourceAnswer(SourceVerdict.UNAVAILABLE, "")
    return answer


async def check_identity(
    engine: AsyncEngine,
    source: IdentitySource,
    actor: audit.Actor,
    application_id: str,
    reading: StoredReading,
    *,
    legal_representative: str,
    request_id: str | None = None,
) -> StoredSourceCheck | None:
    """Ask whether the application's legal representative holds the card's number;
    None when no number was read (the reading's own checks say so)."""
    number = reading.fields.get("id_number")
    if number is None:
        return None
    asked = str(uuid.uuid4())
    answer = await _ask(
        SourceKind.IDENTITY,
        source.name,
        source.check_identity(id_number=number.value, name=legal_representative, request_id=asked),
    )
    return await _save(
        engine,
        actor,
        application_id,
        SourceKind.IDENTITY,
        source.name,
        reading,
        asked,
        answer,
        identity_checks(answer),
        request_id,
    )


async def check_registry(
    engine: AsyncEngine,
    registry: BusinessRegistry,
    actor: audit.Actor,
    application_id: str,
    reading: StoredReading,
    *,
    request_id: str | None = None,
) -> StoredSourceCheck | None:
    """Look the licence's credit code up; None when no code was read."""
    code = reading.fields.get("credit_code")
    if code is None:
        return None
    asked = str(uuid.uuid4())
    answer = await _ask(
        SourceKind.REGISTRY,
        registry.name,
        registry.look_up(credit_code=code.value, request_id=asked),
    )
    return await _save(
        engine,
        actor,
        application_id,
        SourceKind.REGISTRY,
        registry.name,
        reading,
        asked,
        answer,
        registry_checks(answer, reading),
        request_id,
    )


async def _save(
    engine: AsyncEngine,
    actor: audit.Actor,
    application_id: str,
    kind: SourceKind,
    source_name: str,
    reading: StoredReading,
    asked: str,
    answer: SourceAnswer,
    checks: list[Check],
    request_id: str | None,
) -> StoredSourceCheck:
    now = datetime.now(reading.created_at.tzinfo)
    stored = StoredSourceCheck(
        asked,
        kind,
        source_name,
        reading.id,
        answer.verdict,
        answer.reference[:128],
        dict(answer.record),
        checks,
        all(check.passed for check in checks),
        now,
    )
    async with engine.begin() as conn:
        await conn.execute(
            source_checks.insert().values(
                id=stored.id,
                application_id=application_id,
                kind=kind.value,
                source=source_name,
                document_id=reading.id,
                verdict=answer.verdict.value,
                reference=stored.reference,
                record=json.dumps(stored.record, ensure_ascii=False),
                checks=json.dumps([c.as_json() for c in checks], ensure_ascii=False),
                passed=stored.passed,
                checked_at=now,
            )
        )
        await audit.append(
            conn,
            actor,
            KycAction.SOURCE_CHECKED,
            application_id=application_id,
            request_id=request_id,
            details={
                "kind": kind.value,
                "source": source_name,
                "document_id": reading.id,
                "source_request_id": asked,
                "reference": stored.reference,
                "verdict": answer.verdict.value,
                "checks": {check.name: check.passed for check in checks},
            },
            at=now,
        )
    return stored


async def latest_source_checks(
    engine: AsyncEngine, application_id: str
) -> dict[SourceKind, StoredSourceCheck]:
    """The newest answer of each kind of source."""
    async with read_only(engine) as conn:
        rows = (
            (
                await conn.execute(
                    select(source_checks)
                    .where(source_checks.c.application_id == application_id)
                    .order_by(source_checks.c.checked_at)
                )
            )
            .mappings()
            .all()
        )
    latest: dict[SourceKind, StoredSourceCheck] = {}
    for row in rows:
        kind = SourceKind(row["kind"])
        latest[kind] = StoredSourceCheck(
            row["id"],
            kind,
            row["source"],
            row["document_id"],
            SourceVerdict(row["verdict"]),
            row["reference"],
            json.loads(row["record"]),
            [Check.from_json(c) for c in json.loads(row["checks"])],
            row["passed"],
            row["checked_at"],
        )
    return latest


async def sources_hold(
    engine: AsyncEngine, application_id: str, required: Collection[SourceKind]
) -> bool:
    """Every required source's newest answer passed, and was about the newest
    reading of its document (a document uploaded again must be asked about again)."""
    if not required:
        return True
    latest = await latest_source_checks(engine, application_id)
    readings = await latest_readings(engine, application_id)
    document = {
        SourceKind.IDENTITY: DocumentKind.ID_FRONT,
        SourceKind.REGISTRY: DocumentKind.LICENCE,
    }
    for kind in required:
        answer = latest.get(kind)
        reading = readings.get(document[kind].value)
        if answer is None or reading is None or not answer.passed:
            return False
        if answer.document_id != reading.id:
            return False
    return True


async def ask_about(
    engine: AsyncEngine,
    sources: IdentitySources,
    actor: audit.Actor,
    application_id: str,
    reading: StoredReading,
    *,
    legal_representative: str,
    request_id: str | None = None,
) -> StoredSourceCheck | None:
    """Ask the source that vouches for this kind of document, if one is set up."""
    if reading.kind is DocumentKind.ID_FRONT and sources.identity is not None:
        return await check_identity(
            engine,
            sources.identity,
            actor,
            application_id,
            reading,
            legal_representative=legal_representative,
            request_id=request_id,
        )
    if reading.kind is DocumentKind.LICENCE and sources.registry is not None:
        return await check_registry(
            engine, sources.registry, actor, application_id, reading, request_id=request_id
        )
    return None
