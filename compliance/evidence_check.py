"""`signroom verify-evidence`: an evidence package checked with nothing but the bank's root.

Every finding names the file or entry it is about. The verdict holds only when all
of these hold: each listed file is present with its SHA-256 and nothing else is in
the archive; the manifest's seal is the bank's, timestamped, under the trusted root;
the signed contract validates (as `verify-pdf`) and, in the revision both
signatures cover, names the interview manifest that is in the package; every audit
entry's hash matches its content and its inclusion proof leads to a checkpoint whose
seal holds; each recording the interview manifest names is present with its hash;
every recording, document photo and liveness still is the one a sealed audit entry
in the package names, with that hash (so recordings closed after signing are bound
too); a file the manifest lists as expired was deleted by a sealed retention entry
that names its hash.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader

from audit import merkle
from audit.chain import canonical_json
from audit.errors import NonCanonicalDetails
from compliance.actions import DELETIONS
from compliance.package_format import FORMAT, MANIFEST, SEAL
from kyc.actions import KycAction
from media.actions import RECORDING_ACTIONS
from signing.contract.render import EVIDENCE_SUBJECT_PREFIX
from signing.seal_cms import check_seal
from signing.validation import Verdict, validate_pdf

MAX_FILES = 10_000
MAX_TOTAL_BYTES = 4 * 1024**3
# The service's entries are media, JPEG and JSON: none expands anywhere near this.
MAX_RATIO = 200


@dataclass
class EvidenceReport:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read(data: bytes, report: EvidenceReport) -> dict[str, bytes] | None:
    """The archive's files, or None (with the problem reported) for one this service
    could not have made: too many or too large entries, entries that expand far
    beyond their compressed size (a ZIP bomb), a name given twice (a tool that
    extracts the first copy would show another file than the one checked), or a
    directory entry carrying data."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            report.problems.append("the archive is larger than any package this service makes")
            return None
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            report.problems.append(f"the archive names a file more than once: {', '.join(twice)}")
            return None
        for info in infos:
            if info.is_dir() and info.file_size:
                report.problems.append(f"{info.filename}: a directory entry carrying data")
                return None
            if info.file_size > MAX_RATIO * max(info.compress_size, 1):
                report.problems.append(
                    f"{info.filename}: expands {info.file_size} bytes from"
                    f" {info.compress_size} (not a package this service makes)"
                )
                return None
        return {info.filename: archive.read(info) for info in infos if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        report.problems.append(f"not a readable ZIP archive: {exc}")
        return None


async def verify_package(data: bytes, trust: list[asn1_x509.Certificate]) -> EvidenceReport:
    report = EvidenceReport()
    files = _read(data, report)
    if files is None:
        return report
    if MANIFEST not in files or SEAL not in files:
        report.problems.append(f"{MANIFEST} or {SEAL} is missing")
        return report
    try:
        manifest = json.loads(files[MANIFEST])
        listed: dict[str, str] = manifest["files"]
        expired: dict[str, str] = manifest.get("expired", {})
        known = (
            manifest["format"] == FORMAT
            and isinstance(listed, dict)
            and isinstance(expired, dict)
            and all(isinstance(v, str) for v in expired.values())
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        known = False
    if not known:
        report.problems.append(f"{MANIFEST} is not a {FORMAT} manifest")
        return report

    problem = await check_seal(files[MANIFEST], files[SEAL], trust)
    if problem:
        report.problems.append(f"{SEAL} over {MANIFEST}: {problem}")
    else:
        report.checked.append(f"{MANIFEST} sealed by the bank, timestamped")
    present = set(files) - {MANIFEST, SEAL}
    for path in sorted(set(listed) - present):
        report.problems.append(f"{path}: listed in the manifest but missing")
    for path in sorted(present - set(listed)):
        report.problems.append(f"{path}: in the archive but not in the manifest")
    for path in sorted(set(listed) & present):
        if hashlib.sha256(files[path]).hexdigest() != listed[path]:
            report.problems.append(f"{path}: SHA-256 differs from the manifest")
    report.checked.append(f"{len(listed)} files against their SHA-256")

    await _check_contract(files, trust, report)
    verified = await _check_audit(files, trust, report)
    _check_expired(files, expired, verified, report)
    _check_recordings(files, expired, report)
    _check_evidence_audited(files, verified, report)
    return report


def _audited_digests(verified: list[dict[str, Any]]) -> dict[str, set[str]]:
    """What the sealed entries say each kind of evidence file was, by SHA-256."""
    named: dict[str, set[str]] = {
        "recordings/": set(),
        "kyc/documents/": set(),
        "kyc/liveness/": set(),
    }
    for fields in verified:
        details = fields.get("details")
        if not isinstance(details, dict):
            continue
        action = fields.get("action")
        if action in RECORDING_ACTIONS:
            named["recordings/"].add(f"{details.get('file')}:{details.get('sha256')}")
        elif action == KycAction.DOCUMENT_READ:
            named["kyc/documents/"].add(str(details.get("image_sha256")))
        elif action == KycAction.LIVENESS:
            frames = details.get("evidence_frames")
            if isinstance(frames, dict):
                named["kyc/liveness/"].update(str(v) for v in frames.values())
            recording = details.get("recording")
            if isinstance(recording, dict):
                named["kyc/liveness/"].add(str(recording.get("sha256")))
    return named


def _check_evidence_audited(
    files: dict[str, bytes], verified: list[dict[str, Any]], report: EvidenceReport
) -> None:
    """Every recording, document photo and liveness still in the package is one a
    sealed audit entry in the package names, with that hash: a file swapped or made
    up before export is caught even where the manifest lists it."""
    named = _audited_digests(verified)
    checked = 0
    for path, data in sorted(files.items()):
        prefix = next((p for p in named if path.startswith(p)), None)
        if prefix is None:
            continue
        checked += 1
        digest = hashlib.sha256(data).hexdigest()
        key = f"{path.removeprefix(prefix)}:{digest}" if prefix == "recordings/" else digest
        if key not in named[prefix]:
            report.problems.append(
                f"{path}: no sealed audit entry in the package names this file with its SHA-256"
            )
    if checked:
        report.checked.append(f"{checked} evidence files named by sealed audit entries")


def _check_expired(
    files: dict[str, bytes],
    expired: dict[str, str],
    verified: list[dict[str, Any]],
    report: EvidenceReport,
) -> None:
    """A file may be missing only where a sealed retention (or erasure) entry deleted
    that very hash."""
    if not expired:
        return
    deleted = {
        item.get("sha256")
        for fields in verified
        if fields.get("action") in DELETIONS
        for item in (fields.get("details") or {}).get("items") or []
        if isinstance(item, dict)
    }
    for path, digest in sorted(expired.items()):
        if path in files:
            report.problems.append(f"{path}: both present and listed as expired")
        elif digest not in deleted:
            report.problems.append(
                f"{path}: listed as expired, but no sealed retention entry deleted it"
            )
    report.checked.append(f"{len(expired)} files expired by retention, each in a sealed entry")


def _check_recordings(
    files: dict[str, bytes], expired: dict[str, str], report: EvidenceReport
) -> None:
    """Each recording the signed interview manifest names is here (or expired) with
    the hash it had when the contract was signed."""
    try:
        interview = json.loads(files.get("contract/interview-manifest.json", b"{}"))
        named = [(str(r["file"]), str(r["sha256"])) for r in interview.get("recordings") or []]
    except (ValueError, KeyError, TypeError, AttributeError):
        report.problems.append("contract/interview-manifest.json: unreadable recordings list")
        return
    for name, digest in named:
        path = f"recordings/{name}"
        data = files.get(path)
        if data is not None and hashlib.sha256(data).hexdigest() == digest:
            continue
        if data is None and expired.get(path) == digest:
            continue
        report.problems.append(f"{path}: not the recording the signed interview manifest names")
    if named:
        report.checked.append(f"{len(named)} recordings match the signed interview manifest")


async def _check_contract(
    files: dict[str, bytes], trust: list[asn1_x509.Certificate], report: EvidenceReport
) -> None:
    pdf = files.get("contract/signed.pdf")
    if pdf is None:
        report.checked.append("no signed contract in this package")
        return
    result = await validate_pdf(pdf, trust)
    if result.verdict is not Verdict.VALID:
        reasons = result.problems + [p for s in result.signatures for p in s.problems]
        report.problems.append(f"contract/signed.pdf: {result.verdict}: {'; '.join(reasons)}")
    else:
        report.checked.append("contract/signed.pdf: both signatures and the timestamp valid")
    try:
        first = PdfFileReader(io.BytesIO(pdf)).get_historical_resolver(0)
        subject = str(first.trailer_view["/Info"]["/Subject"])
    except (KeyError, ValueError, TypeError):
        subject = ""
    interview = files.get("contract/interview-manifest.json")
    expected = (
        EVIDENCE_SUBJECT_PREFIX + hashlib.sha256(interview).hexdigest() if interview else None
    )
    if expected is None or subject != expected:
        report.problems.append(
            "contract/signed.pdf: the signed contract does not bind "
            "contract/interview-manifest.json"
        )
    else:
        report.checked.append("the signed contract binds the interview manifest")


async def _check_audit(
    files: dict[str, bytes], trust: list[asn1_x509.Certificate], report: EvidenceReport
) -> list[dict[str, Any]]:
    """Check the entries against the sealed checkpoints; the fields of those that hold."""
    verified: list[dict[str, Any]] = []
    try:
        entries = json.loads(files.get("audit/entries.json", b"[]"))
    except ValueError:
        report.problems.append("audit/entries.json is not JSON")
        return verified
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        report.problems.append("audit/entries.json is not a list of entries")
        return verified
    roots: dict[int, bytes] = {}
    for path, data in files.items():
        if not path.startswith("audit/checkpoints/"):
            continue
        try:
            exported = json.loads(data)
            statement = base64.b64decode(exported["statement_b64"])
            seal = base64.b64decode(exported["signature_b64"])
            sealed = json.loads(statement)
            size, root = int(sealed["tree_size"]), bytes.fromhex(sealed["tree_root"])
        except (ValueError, KeyError, TypeError):
            report.problems.append(f"{path}: unreadable checkpoint")
            continue
        problem = await check_seal(statement, seal, trust)
        if problem:
            report.problems.append(f"{path}: {problem}")
            continue
        roots[size] = root
    bad = 0
    for item in entries:
        try:
            fields = item["fields"]
            encoded = canonical_json(fields).encode()
            seq, size = int(fields["seq"]), int(item["checkpoint"])
            proof = [bytes.fromhex(p) for p in item["proof"]]
        except (KeyError, ValueError, TypeError, AttributeError, NonCanonicalDetails):
            report.problems.append("audit/entries.json: an entry is malformed")
            bad += 1
            continue
        if hashlib.sha256(encoded).hexdigest() != item.get("entry_hash"):
            report.problems.append(f"audit entry {seq}: hash does not match its content")
            bad += 1
        elif size not in roots or not merkle.verify_inclusion(
            seq - 1, size, merkle.leaf_hash(encoded), proof, roots[size]
        ):
            report.problems.append(f"audit entry {seq}: not included in sealed checkpoint {size}")
            bad += 1
        else:
            verified.append(fields)
    if entries and not bad:
        report.checked.append(f"{len(entries)} audit entries included in sealed checkpoints")
    return verified


def verify_file(data: bytes, trust: list[asn1_x509.Certificate]) -> EvidenceReport:
    return asyncio.run(verify_package(data, trust))
