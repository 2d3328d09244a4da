"""Identity checks offline: read an ID card or a licence, match faces, calibrate a face
model on a bank's own pairs, score passive liveness. JSON on standard output."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date
from pathlib import Path

from config.settings import Settings
from kyc.errors import KycError
from kyc.face_calibration import MAX_GENUINE_NO_MATCH, MAX_MATCH_FAR, bands, calibrate, table
from kyc.face_engine import engine as face_engine
from kyc.facematch import compare, distance_between, samples_from
from kyc.faces import FaceSample
from kyc.passive import assess_file
from kyc.reading import read_id_card, read_licence


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kyc = sub.add_parser("kyc", help="identity document tools (JSON on stdout)").add_subparsers(
        dest="kyc_command", required=True
    )
    read_id = kyc.add_parser("read-id", help="read a PRC ID card photo (front, back or both)")
    read_id.add_argument("file", type=Path)
    read_id.add_argument("--expect-name", help="the application's legal representative")
    read_id.add_argument(
        "--today", type=date.fromisoformat, default=None, help="date for the expiry check"
    )
    read_licence = kyc.add_parser("read-licence", help="read a business licence photo")
    read_licence.add_argument("file", type=Path)
    read_licence.add_argument("--expect-company")
    read_licence.add_argument("--expect-credit-code")
    read_licence.add_argument("--expect-legal-representative")
    face_match = kyc.add_parser(
        "face-match", help="face distance and decision for two files, or for --pairs CSV"
    )
    face_match.add_argument("files", type=Path, nargs="*", help="A B: photos or videos")
    face_match.add_argument("--pairs", type=Path, help="CSV with columns a,b")
    calibrate_cmd = kyc.add_parser(
        "calibrate",
        help="thresholds for the configured face model from labelled pairs, with FAR/FRR",
    )
    calibrate_cmd.add_argument(
        "--pairs", type=Path, required=True, help="CSV with columns a,b,same (1/0, yes/no)"
    )
    calibrate_cmd.add_argument(
        "--write", type=Path, help="write the thresholds file SIGNROOM_FACE_THRESHOLDS names"
    )
    liveness = kyc.add_parser(
        "liveness", help="passive liveness of a video or image (active challenges need a session)"
    )
    liveness.add_argument("file", type=Path)
    liveness.add_argument(
        "--passive",
        action="store_true",
        required=True,
        help="score the recording with the passive cues (the only mode offline)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.kyc_command == "face-match":
        return _face_match(args)
    if args.kyc_command == "calibrate":
        return _calibrate(args)
    try:
        if args.kyc_command == "liveness":
            passive = assess_file(args.file)
            real = passive.real_probability
            print(
                json.dumps(
                    {
                        "score": round(passive.score, 3),
                        "decision": passive.decision,
                        "real_probability": None if real is None else round(real, 3),
                    }
                )
            )
            return 0
        image = args.file.read_bytes()
        if args.kyc_command == "read-id":
            reading = read_id_card(
                image, today=args.today or date.today(), expected_name=args.expect_name
            )
        else:
            reading = read_licence(
                image,
                expected_company=args.expect_company,
                expected_credit_code=args.expect_credit_code,
                expected_legal_representative=args.expect_legal_representative,
            )
    except (OSError, KycError) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps(reading.as_json(), ensure_ascii=False))
    return 0


def _face_match(args: argparse.Namespace) -> int:
    """One JSON object per pair; each distinct file is processed once."""
    if args.pairs:
        try:
            with args.pairs.open(newline="", encoding="utf-8") as handle:
                pairs = [(Path(row["a"]), Path(row["b"])) for row in csv.DictReader(handle)]
        except (OSError, KeyError, csv.Error) as exc:
            print(json.dumps({"error": f"cannot read pairs: {exc}"}), file=sys.stderr)
            return 1
    elif len(args.files) == 2:
        pairs = [(args.files[0], args.files[1])]
    else:
        print(json.dumps({"error": "give two files, or --pairs FILE"}), file=sys.stderr)
        return 2
    samples: dict[Path, list[FaceSample] | str] = {}
    for path in sorted({p for pair in pairs for p in pair}):
        try:
            samples[path] = samples_from(path)
        except KycError as exc:
            samples[path] = str(exc)
    failed = False
    for a, b in pairs:
        row: dict[str, object] = {"a": str(a), "b": str(b)}
        left, right = samples[a], samples[b]
        if isinstance(left, str) or isinstance(right, str):
            row["error"] = left if isinstance(left, str) else right
            failed = True
        else:
            row.update(compare(left, right).as_json())
        print(json.dumps(row, ensure_ascii=False))
    return 1 if failed and len(pairs) == 1 else 0


SAME = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}


def _calibrate(args: argparse.Namespace) -> int:
    """Thresholds for the configured model from a bank's own labelled pairs: the
    constraints of kyc/face_calibration.py on its pairs, and the FAR/FRR table."""
    try:
        with args.pairs.open(newline="", encoding="utf-8") as handle:
            labelled = [
                (Path(row["a"]), Path(row["b"]), SAME[row["same"].strip().lower()])
                for row in csv.DictReader(handle)
            ]
    except (OSError, KeyError, AttributeError, csv.Error) as exc:
        print(json.dumps({"error": f"cannot read pairs: {exc!r}"}), file=sys.stderr)
        return 1
    samples: dict[Path, list[FaceSample]] = {}
    unusable: dict[str, str] = {}
    for path in sorted({p for a, b, _ in labelled for p in (a, b)}):
        try:
            samples[path] = samples_from(path)
        except KycError as exc:
            unusable[str(path)] = str(exc)
    scored = [
        (distance_between(samples[a], samples[b]), same)
        for a, b, same in labelled
        if a in samples and b in samples
    ]
    genuine = sum(same for _, same in scored)
    if not genuine or genuine == len(scored):
        print(json.dumps({"error": "need genuine and impostor pairs", "unusable": unusable}))
        return 1
    limits = calibrate([scored])
    model = face_engine().description
    document = {
        **model.as_json(),
        "match": limits.match,
        "review": limits.review,
        "constraints": {
            "max_match_far": MAX_MATCH_FAR,
            "max_genuine_no_match": MAX_GENUINE_NO_MATCH,
        },
        "pairs": len(scored),
        "genuine": genuine,
        "impostor": len(scored) - genuine,
        "unusable": unusable,
        "bands": bands(scored, limits),
        "table": table(scored),
    }
    if args.write:
        temporary = args.write.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
        temporary.replace(args.write)
    print(json.dumps(document, ensure_ascii=False))
    return 0
