"""Helpers for the signing tests: a case in its interview, a drawn mark, poppler and NSS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import shutil
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from audit import log as audit
from audit.log import Actor
from kyc.liveness import Challenge
from kyc.records import complete_liveness, issue_liveness
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL, Principal
from loans.roles import Role
from loans.states import Action
from media.recording import KEYFRAME_SECONDS, SegmentRecorder
from tests.document_flow import consenting_applicant, matching_documents, upload
from tests.media_support import h264_packets, in_time_order, opus_packets
from tests.vp8_support import layered_clip, rtp_packets
from tests.web_support import Browser, Service
from web.keys import BLOBS

SYSTEM = Actor("system", "system")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make test` installs it (scripts/debian-packages.txt)")
    return path


def drawn_mark(width: int = 600, height: int = 220) -> bytes:
    """A handwriting-like stroke on a transparent canvas, as the phone's pad sends it."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(40 + i * 9, 110 + int(50 * ((i % 7) - 3) / 3)) for i in range(55)]
    draw.line(points, fill=(17, 17, 17, 255), width=5, joint="curve")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def mark_b64() -> str:
    return base64.b64encode(drawn_mark()).decode()


async def record_liveness_pass(service: Service, app_id: str) -> str:
    """A liveness attempt as the worker records one that passed (the real check needs a
    face video; tests/test_web_liveness.py runs it on real clips)."""
    attempt = await issue_liveness(
        service.engine,
        SYSTEM,
        app_id,
        [Challenge.BLINK, Challenge.TURN_LEFT],
        valid_for=timedelta(minutes=5),
    )
    await complete_liveness(
        service.engine,
        SYSTEM,
        attempt,
        passed=True,
        result={
            "detected": {"blink": True, "turn_left": True},
            "face_distance": "0.3100",
            "face_decision": "match",
            "passive": {"decision": "live", "score": "0.900"},
        },
        video_sha256="0" * 64,
    )
    return attempt.id


async def applicant_in_interview(service: Service) -> tuple[Browser, str]:
    """An applicant whose documents were read for real, identity verified, in the call."""
    applicant, app_id = await consenting_applicant(service)
    front, back, licence, _id_number = matching_documents()
    for kind, data in (("id_front", front), ("id_back", back), ("licence", licence)):
        response = await upload(applicant, kind, data)
        assert response.status == 201, response.text
        assert response.body["passed"], response.body["checks"]
    await record_liveness_pass(service, app_id)
    await apps.act(service.engine, SYSTEM_PRINCIPAL, app_id, Action.VERIFY_IDENTITY)
    manager = Principal(Role.MANAGER, user_id=service.user_ids["m1"])
    await apps.act(service.engine, manager, app_id, Action.START_INTERVIEW)
    return applicant, app_id


def pdf_text(pdf: Path) -> str:
    return subprocess.run(
        [require_tool("pdftotext"), "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def pdfsig(pdf: Path, nss_dir: Path | None = None) -> str:
    command = [require_tool("pdfsig")]
    if nss_dir is not None:
        command += ["-nssdir", f"sql:{nss_dir}"]
    result = subprocess.run([*command, str(pdf)], capture_output=True, text=True, check=False)
    return result.stdout + result.stderr


def nss_trusting(directory: Path, root_pem: Path) -> Path:
    """An NSS database (Debian's libnss3-tools) that trusts the service root."""
    directory.mkdir(parents=True, exist_ok=True)
    certutil = require_tool("certutil")
    subprocess.run([certutil, "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(
        [
            certutil,
            "-A",
            "-n",
            "signroom-root",
            "-t",
            "CT,C,C",
            "-i",
            str(root_pem),
            "-d",
            f"sql:{directory}",
        ],
        check=True,
    )
    return directory


def segment_recording(directory: Path, side: str, *, seconds: int, video_codec: str) -> Path:
    """A segment as the server's recorder writes it (media.recording): real VP8 or
    H.264 and Opus, fed as RTP packets, with a key frame where the recorder would
    have asked for one. Stands in for a call where a test needs the review side and
    not the call (tests/test_browser_call.py records real ones)."""
    every = KEYFRAME_SECONDS * 15
    video = (
        rtp_packets(layered_clip(seconds * 15, keyframe_every=every))
        if video_codec == "vp8"
        else h264_packets(seconds * 15, keyframe_every=every)
    )
    recorder = SegmentRecorder(directory / f"{side}-1.webm")
    for kind, packet, codec in in_time_order(opus_packets(seconds), video, video_codec):
        recorder.write(kind, packet, codec)
    info = recorder.close()
    assert info is not None
    return info.path


async def recorded_segments(
    service: Service, app_id: str, *, seconds: int = 6, manager_video: str = "vp8"
) -> list[str]:
    """Both participants' segments as the call leaves them: blobs in the blob
    store and a `call.segment_recorded` entry each (see interview/hosted_calls.py).
    The applicant's video is VP8; the manager's `manager_video`."""
    directory = service.settings.recordings_dir / app_id
    directory.mkdir(parents=True, exist_ok=True)
    assert service.server.app is not None
    blobs = service.server.app[BLOBS]
    started = datetime.now(UTC) - timedelta(seconds=seconds + 1)
    names = []
    for side, codec in (("applicant", "vp8"), ("manager", manager_video)):
        path = await asyncio.to_thread(
            segment_recording, directory, side, seconds=seconds, video_codec=codec
        )
        data = path.read_bytes()
        await blobs.put_file(path)
        path.unlink()
        async with service.engine.begin() as conn:
            await audit.append(
                conn,
                SYSTEM_PRINCIPAL.actor,
                "call.segment_recorded",
                application_id=app_id,
                details={
                    "side": side,
                    "segment": 1,
                    "file": path.name,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "duration_seconds": f"{seconds:.2f}",
                    "started_at": started.isoformat(timespec="milliseconds"),
                },
            )
        names.append(path.name)
    return names


async def read_every_page(applicant: Browser) -> dict[str, object]:
    contract = (await applicant.request("GET", "/api/applicant/contract")).body
    for page in range(1, contract["page_count"] + 1):
        image = await applicant.request("GET", f"/api/applicant/contract/pages/{page}")
        assert image.status == 200
        assert image.headers["Content-Type"] == "image/png"
        read = await applicant.request("POST", f"/api/applicant/contract/pages/{page}/read")
        assert read.status == 200, read.text
    return dict(read.body)


async def demo_code(manager: Browser, app_id: str) -> str:
    status = await manager.request("GET", f"/api/applications/{app_id}/contract")
    code = status.body["demo_code"]
    assert isinstance(code, str) and len(code) == 6
    return code


async def sign_in_interview(service: Service, applicant: Browser, app_id: str) -> None:
    """The manager pushes the contract; the applicant reads, proves presence, signs."""
    manager = await service.staff("m1")
    pushed = await manager.request("POST", f"/api/applications/{app_id}/contract")
    assert pushed.status == 201, pushed.text
    await read_every_page(applicant)
    await record_liveness_pass(service, app_id)
    assert (await applicant.request("POST", "/api/applicant/contract/code")).status == 200
    signed = await applicant.request(
        "POST",
        "/api/applicant/contract/sign",
        json={"code": await demo_code(manager, app_id), "mark_png": mark_b64()},
    )
    assert signed.status == 200, signed.text
