"""An applicant who has consented, and uploads of matching generated documents."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from audit.log import Actor
from kyc.faces import head_crop
from kyc.liveness import Challenge
from kyc.records import complete_liveness, issue_liveness
from tests import specimens
from tests.web_support import APPLICATION, Browser, Response, Service

TODAY = date(2026, 11, 29)


def matching_documents() -> tuple[bytes, bytes, bytes, str]:
    """ID card and licence agreeing with tests.web_support.APPLICATION."""
    rng = random.Random(41)
    person = dataclasses.replace(
        specimens.random_identity(rng, today=TODAY), name=str(APPLICATION["legal_rep_name"])
    )
    company = dataclasses.replace(
        specimens.random_company(rng, person.name, today=TODAY),
        company_name=str(APPLICATION["company_name"]),
        credit_code=str(APPLICATION["credit_code"]),
    )
    return (
        jpeg(specimens.draw_id_front(person)),
        jpeg(specimens.draw_id_back(person)),
        jpeg(specimens.draw_licence(company)),
        person.id_number,
    )


async def consenting_applicant(service: Service, *, biometrics: bool = True) -> tuple[Browser, str]:
    """An applicant who agreed to recording and data use, and chose on biometrics."""
    app_id = await service.new_application("m1")
    applicant = await service.applicant("m1", app_id)
    consent = await applicant.request(
        "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
    )
    assert consent.status == 200
    chosen = await applicant.request(
        "POST", "/api/applicant/consent/biometrics", json={"granted": biometrics}
    )
    assert chosen.status == 200, chosen.text
    return applicant, app_id


async def upload(
    browser: Browser, kind: str, data: bytes, content_type: str = "image/jpeg"
) -> Response:
    return await browser.request(
        "POST",
        f"/api/applicant/documents/{kind}",
        data=data,
        headers={"Content-Type": content_type},
    )


# A copy with its licence in tests/data (see ATTRIBUTION.md there), so the browser
# tests run on a clean clone.
D12 = Path(__file__).parent / "data/video/d12.mp4"


def first_frame(path: Path) -> np.ndarray[Any, Any]:
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read()
    capture.release()
    assert ok, path
    return frame


def documents(folder: Path) -> dict[str, Path]:
    """Photos of an ID card and licence matching the application, whose portrait is
    the person in d12, and a selfie of them."""
    rng = random.Random(77)
    person = dataclasses.replace(
        specimens.random_identity(rng, today=TODAY), name=str(APPLICATION["legal_rep_name"])
    )
    company = dataclasses.replace(
        specimens.random_company(rng, person.name, today=TODAY),
        company_name=str(APPLICATION["company_name"]),
        credit_code=str(APPLICATION["credit_code"]),
    )
    face = first_frame(D12)
    images = {
        "id_front": specimens.draw_id_front(person, head_crop(face)),
        "id_back": specimens.draw_id_back(person),
        "licence": specimens.draw_licence(company),
        "selfie": face,
    }
    paths = {}
    for kind, image in images.items():
        paths[kind] = folder / f"{kind}.jpg"
        cv2.imwrite(str(paths[kind]), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return paths


def jpeg(image: np.ndarray[Any, Any]) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


async def record_attempt(service: Service, app_id: str, face_decision: str) -> None:
    """A completed liveness attempt as the worker would have recorded it: every
    challenge seen, no spoof, and the face match in the band given."""
    attempt = await issue_liveness(
        service.engine,
        Actor("system", "system"),
        app_id,
        [Challenge.BLINK, Challenge.NOD, Challenge.OPEN_MOUTH],
        valid_for=timedelta(minutes=5),
    )
    await complete_liveness(
        service.engine,
        Actor("system", "system"),
        attempt,
        passed=False,
        result={
            "detected": {"blink": True, "nod": True, "open_mouth": True},
            "face_distance": "0.5900",
            "face_decision": face_decision,
            "passive": {"decision": "live", "score": "0.900"},
        },
        video_sha256="0" * 64,
    )
