"""Evidence of one remote loan: the interview manifest a contract binds, and the sealed package.

The interview manifest (made when the contract is pushed) lists by hash the identity
evidence, the recording segments closed so far and the audit head; its SHA-256 is
written into the contract, inside what both signatures cover. The package (for
compliance, and for anyone years later) holds the signed contract, that manifest,
recordings, document images and evidence frames, KYC results, the application's
audit entries with inclusion proofs and the checkpoints covering them, and the CA
certificates; `manifest.json` lists every file's SHA-256 and `manifest.cms` is the
bank's timestamped seal over it. `signroom verify-evidence` checks it offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from audit import tree
from audit.chain import canonical_json
from audit.checkpoints import make_checkpoint, newest_checkpoint
from audit.log import entries_for_application
from compliance.actions import ComplianceAction
from compliance.errors import EvidenceIncomplete
from compliance.package_format import FORMAT, MANIFEST, SEAL
from compliance.retention import expired_digests
from compliance.review_timeline import segments
from kyc.records import latest_face_match, latest_liveness, latest_readings
from loans.consent import consent_history
from media.actions import CallAction
from signing import contracts as contract_records
from signing.actions import ContractAction
from signing.service import SigningService
from store.blobs import BlobStore
from store.database import read_only
from store.errors import BlobCorrupt, BlobNotFound
from store.schema import applications, audit_log


@dataclass(frozen=True, slots=True)
class EvidenceSources:
    """Where a package's contents are kept, and the seal that closes it."""

    engine: AsyncEngine
    blobs: BlobStore
    # Liveness stills and clips: the biometric namespace (store/blobs.py).
    biometric_blobs: BlobStore
    signing: SigningService
    # Where each checkpoint is also written as a file (audit/checkpoints.py), if anywhere.
    checkpoint_export: Path | None


async def interview_manifest(engine: AsyncEngine, application_id: str) -> bytes:
    """Canonical JSON of what the interview and identity checks produced so far."""
    readings = await latest_readings(engine, application_id)
    match = await latest_face_match(engine, application_id)
    liveness = await latest_liveness(engine, application_id)
    async with engine.connect() as conn:
        head = (
            await conn.execute(
                select(audit_log.c.seq, audit_log.c.entry_hash)
                .order_by(audit_log.c.seq.desc())
                .limit(1)
            )
        ).first()
        segments = [
            json.loads(row.details)
            for row in await conn.execute(
                select(audit_log.c.details).where(
                    audit_log.c.application_id == application_id,
                    audit_log.c.action == CallAction.SEGMENT_RECORDED,
                )
            )
        ]
    document = {
        "format": "signroom-interview/1",
        "application_id": application_id,
        "created_at": datetime.now(UTC).isoformat(),
        "audit_head": {"seq": head.seq, "entry_hash": head.entry_hash} if head else None,
        "documents": {
            kind: {"reading_id": r.id, "image_sha256": r.image_sha256, "passed": r.passed}
            for kind, r in sorted(readings.items())
        },
        "face_match": match.as_json() if match else None,
        "liveness": liveness.as_json() if liveness else None,
        "recordings": [
            {k: s.get(k) for k in ("file", "sha256", "size", "side", "segment")} for s in segments
        ],
    }
    return canonical_json(document).encode()


async def _audit_section(
    engine: AsyncEngine, application_id: str
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """The application's entries, each with its inclusion proof in the newest checkpoint."""
    newest = await newest_checkpoint(engine)
    assert newest is not None  # the export has just made one
    size = newest.tree_size
    # A checkpoint sealed before the tree was stored (an upgrade) leaves it short.
    await tree.ensure(engine, size)
    async with read_only(engine) as conn:
        own = [
            entry
            for entry in await entries_for_application(conn, application_id, limit=100_000)
            if entry.seq <= size
        ]
        # O(log n) stored nodes per entry, whatever the log's length.
        proofs = await tree.inclusion_proofs(conn, [entry.seq - 1 for entry in own], size)
    entries = [
        {
            "fields": entry.hashed_fields(),
            "entry_hash": entry.entry_hash,
            "checkpoint": size,
            "proof": [p.hex() for p in proofs[entry.seq - 1]],
        }
        for entry in own
    ]
    files = {
        f"audit/checkpoints/{size}.json": json.dumps(
            newest.export(None, []), indent=1, sort_keys=True
        ).encode()
    }
    return entries, files


async def _refuse(engine: AsyncEngine, application_id: str, name: str, how: str) -> NoReturn:
    """An integrity failure is compliance's to know of: audited, and no package."""
    async with engine.begin() as conn:
        await audit.append(
            conn,
            audit.SYSTEM,
            ComplianceAction.EVIDENCE_REFUSED,
            application_id=application_id,
            details={"file": name, "problem": how},
        )
    raise EvidenceIncomplete(
        f"{name}: the recording the audit log names is {how} in storage; no package was made"
    )


class _Collector:
    """The package's files; a blob deleted by retention is listed as expired instead."""

    def __init__(self, blobs: BlobStore, expired: set[str]) -> None:
        self.blobs = blobs
        self.expired = expired
        self.files: dict[str, bytes] = {}
        self.gone: dict[str, str] = {}

    async def blob(self, path: str, digest: str, *, store: BlobStore | None = None) -> None:
        try:
            self.files[path] = await (store or self.blobs).get(digest)
        except BlobNotFound:
            if digest not in self.expired:
                raise
            self.gone[path] = digest


async def _applicant_record(engine: AsyncEngine, application_id: str) -> bytes:
    """What the bank holds about the applicant beyond the evidence: the application as
    entered and every consent record (a data subject's access request)."""
    async with read_only(engine) as conn:
        row = (
            (await conn.execute(select(applications).where(applications.c.id == application_id)))
            .mappings()
            .one()
        )
    record = {
        "application": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()},
        "consents": [c.as_json() for c in await consent_history(engine, application_id)],
    }
    return json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True).encode()


async def build_package(
    sources: EvidenceSources, application_id: str, *, applicant_record: bool = False
) -> bytes:
    """The sealed package; with `applicant_record`, also the application as entered and
    its consents (the export of one applicant's personal data)."""
    engine = sources.engine
    service = sources.signing
    # Seal the log first, so every entry of the application has a checkpoint.
    await make_checkpoint(
        engine,
        service.seal_statement,
        "evidence_export",
        export_dir=sources.checkpoint_export,
    )
    async with read_only(engine) as conn:
        history = await entries_for_application(conn, application_id, limit=100_000)
    out = _Collector(sources.blobs, expired_digests(history))
    contract = await contract_records.latest_contract(engine, application_id)
    if contract is not None:
        if contract.signed_sha256:
            await out.blob("contract/signed.pdf", contract.signed_sha256)
        pushed = [e for e in history if e.action == ContractAction.PUSHED]
        evidence = pushed[-1].details.get("evidence_sha256") if pushed else None
        if isinstance(evidence, str):
            await out.blob("contract/interview-manifest.json", evidence)
    readings = await latest_readings(engine, application_id)
    for kind, reading in sorted(readings.items()):
        await out.blob(f"kyc/documents/{kind}.jpg", reading.image_sha256)
    liveness = await latest_liveness(engine, application_id)
    frames = (liveness.result or {}).get("evidence_frames", {}) if liveness else {}
    for name, digest in sorted(frames.items()):
        await out.blob(f"kyc/liveness/{name}.jpg", digest, store=sources.biometric_blobs)
    # A verification session's recording: what the server itself received.
    session = (liveness.result or {}).get("recording") if liveness else None
    if isinstance(session, dict) and isinstance(session.get("sha256"), str):
        await out.blob(
            "kyc/liveness/session.webm", session["sha256"], store=sources.biometric_blobs
        )
    match = await latest_face_match(engine, application_id)
    out.files["kyc/results.json"] = json.dumps(
        {
            "documents": {k: r.as_json(reveal_id_number=True) for k, r in readings.items()},
            "face_match": match.as_json() if match else None,
            "liveness": liveness.as_json() if liveness else None,
        },
        ensure_ascii=False,
        indent=1,
        sort_keys=True,
    ).encode()
    # Only the recordings the audit log names, each read by the hash it names: a
    # blob altered in storage, or one nobody recorded, never enters a sealed package.
    for segment in segments(history):
        name = f"recordings/{segment.file}"
        try:
            out.files[name] = await sources.blobs.get(segment.sha256)
        except BlobNotFound:
            if segment.sha256 not in out.expired:
                await _refuse(engine, application_id, name, "missing")
            out.gone[name] = segment.sha256
        except BlobCorrupt:
            await _refuse(engine, application_id, name, "altered")
    if applicant_record:
        out.files["applicant/record.json"] = await _applicant_record(engine, application_id)
    files = out.files
    entries, checkpoint_files = await _audit_section(engine, application_id)
    files["audit/entries.json"] = json.dumps(entries, ensure_ascii=False, indent=1).encode()
    files.update(checkpoint_files)
    authority = service.authority
    for name, certificate in (
        ("root", authority.root.certificate),
        ("issuing", authority.issuing.certificate),
        ("tsa", authority.tsa.certificate),
        ("seal", authority.seal_certificate),
    ):
        files[f"pki/{name}.pem"] = certificate.public_bytes(serialization.Encoding.PEM)
    manifest = canonical_json(
        {
            "format": FORMAT,
            "application_id": application_id,
            "created_at": datetime.now(UTC).isoformat(),
            "files": {
                path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())
            },
            # Deleted by retention: the audit entries in the package name each hash.
            "expired": dict(sorted(out.gone.items())),
        }
    ).encode()
    files[MANIFEST] = manifest
    files[SEAL] = await service.seal_statement(manifest)
    return await asyncio.to_thread(_zip, files)


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            archive.writestr(path, data)
    return out.getvalue()
