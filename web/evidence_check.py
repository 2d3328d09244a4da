"""`signroom verify-evidence`: an evidence package checked with nothing but the bank's root.

Every finding names the file or entry it is about. The verdict holds only when all
of these hold: each listed file is present with its SHA-256 and nothing else is in
the archive; the manifest's seal is the bank's, timestamped, under the trusted root;
the signed contract validates (as `verify-pdf`) and, in the revision both
signatures cover, names the interview manifest that is in the package; every audit
entry's hash matches its content and its inclusion proof leads to a checkpoint whose
seal holds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader

from audit import merkle
from audit.chain import canonical_json
from signing.contract.render import EVIDENCE_SUBJECT_PREFIX
from signing.seal_cms import check_seal
from signing.validation import Verdict, validate_pdf
from web.evidence import FORMAT, MANIFEST, SEAL

MAX_FILES = 10_000
MAX_TOTAL_BYTES = 4 * 1024**3


@dataclass
class EvidenceReport:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read(data: bytes, report: EvidenceReport) -> dict[str, bytes] | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            report.problems.append("the archive is larger than any package this service makes")
            return None
        return {info.filename: archive.read(info) for info in infos if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
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
        known = manifest["format"] == FORMAT and isinstance(listed, dict)
    except (ValueError, KeyError, TypeError):
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
    await _check_audit(files, trust, report)
    return report


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
) -> None:
    try:
        entries = json.loads(files.get("audit/entries.json", b"[]"))
    except ValueError:
        report.problems.append("audit/entries.json is not JSON")
        return
    roots: dict[int, bytes] = {}
    for path, data in files.items():
        if not path.startswith("audit/checkpoints/"):
            continue
        try:
            exported = json.loads(data)
            statement = base64.b64decode(exported["statement_b64"])
            seal = base64.b64decode(exported["signature_b64"])
            sealed = json.loads(statement)
        except (ValueError, KeyError):
            report.problems.append(f"{path}: unreadable checkpoint")
            continue
        problem = await check_seal(statement, seal, trust)
        if problem:
            report.problems.append(f"{path}: {problem}")
            continue
        roots[int(sealed["tree_size"])] = bytes.fromhex(sealed["tree_root"])
    bad = 0
    for item in entries:
        try:
            fields = item["fields"]
            encoded = canonical_json(fields).encode()
            seq, size = int(fields["seq"]), int(item["checkpoint"])
            proof = [bytes.fromhex(p) for p in item["proof"]]
        except (KeyError, ValueError, TypeError):
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
    if entries and not bad:
        report.checked.append(f"{len(entries)} audit entries included in sealed checkpoints")


def verify_file(data: bytes, trust: list[asn1_x509.Certificate]) -> EvidenceReport:
    return asyncio.run(verify_package(data, trust))
