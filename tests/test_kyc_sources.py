"""Outside identity sources: the HTTP adapters against a local gateway that checks
our signature and signs its answers, the fakes, and the gate they put on
identity_verified."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web as aiohttp_web
from aiohttp.test_utils import TestServer

import web
from config.errors import ConfigError
from config.settings import Settings
from integration.fake_sources import FakeBusinessRegistry, FakeIdentitySource
from integration.identity_sources import HttpBusinessRegistry, HttpIdentitySource
from integration.signature import signed_headers, verify
from kyc.sources import SourceUnavailable, SourceVerdict
from loans.roles import Role
from tests.document_flow import consenting_applicant, matching_documents, record_attempt, upload
from tests.signing_support import free_port
from tests.web_support import APPLICATION, Service, start_service, stop_service
from web.demo import DEMO_APPLICATION

SECRET = "gateway-shared-secret"
VALID_ID = "11010519491231002X"


@dataclass
class Gateway:
    """A bank's gateway as the adapters expect it: checks the request's signature,
    answers with what `answer` says, signed unless told otherwise."""

    url: str = ""
    answer: dict[str, Any] = field(default_factory=lambda: {"result": "match"})
    questions: list[dict[str, Any]] = field(default_factory=list)
    sign_answers: bool = True
    echo_request_id: bool = True
    delay: float = 0.0
    status: int = 200

    async def handle(self, request: aiohttp_web.Request) -> aiohttp_web.Response:
        body = await request.read()
        if not verify(SECRET, request.headers, body):
            return aiohttp_web.Response(status=401)
        question = json.loads(body)
        self.questions.append(question)
        await asyncio.sleep(self.delay)
        answer = {"reference": f"gw-{len(self.questions)}", **self.answer}
        answer["request_id"] = question["request_id"] if self.echo_request_id else "another"
        out = json.dumps(answer, ensure_ascii=False).encode()
        headers = signed_headers(SECRET if self.sign_answers else "not-the-secret", out)
        return aiohttp_web.Response(
            status=self.status, body=out, headers=headers, content_type="application/json"
        )


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    served = Gateway()
    app = aiohttp_web.Application()
    app.router.add_post("/check", served.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    served.url = str(server.make_url("/check"))
    yield served
    await server.close()


async def test_the_identity_question_is_signed_and_the_signed_answer_read(
    gateway: Gateway,
) -> None:
    source = HttpIdentitySource(gateway.url, SECRET, timeout=5)
    answer = await source.check_identity(id_number=VALID_ID, name="张三", request_id="r-1")
    assert answer.verdict is SourceVerdict.MATCH
    assert answer.reference == "gw-1"
    assert gateway.questions == [{"request_id": "r-1", "id_number": VALID_ID, "name": "张三"}]
    gateway.answer = {"result": "mismatch"}
    again = await source.check_identity(id_number=VALID_ID, name="李四", request_id="r-2")
    assert again.verdict is SourceVerdict.MISMATCH


async def test_a_request_signed_with_another_secret_is_refused_by_the_gateway(
    gateway: Gateway,
) -> None:
    source = HttpIdentitySource(gateway.url, "wrong-secret", timeout=5)
    with pytest.raises(SourceUnavailable, match="HTTP 401"):
        await source.check_identity(id_number=VALID_ID, name="张三", request_id="r-1")
    assert gateway.questions == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"sign_answers": False}, "not signed"),
        ({"echo_request_id": False}, "not about this request"),
        ({"answer": {"result": "probably"}}, "no known result"),
        ({"answer": {"result": "match", "reference": 7}}, "not text"),
        ({"status": 503}, "HTTP 503"),
        ({"delay": 2.0}, "in time"),
    ],
)
async def test_an_answer_that_cannot_be_trusted_is_no_answer(
    gateway: Gateway, change: dict[str, Any], why: str
) -> None:
    for name, value in change.items():
        setattr(gateway, name, value)
    source = HttpIdentitySource(gateway.url, SECRET, timeout=1)
    with pytest.raises(SourceUnavailable, match=why):
        await source.check_identity(id_number=VALID_ID, name="张三", request_id="r-1")


async def test_an_unreachable_source_is_no_answer() -> None:
    source = HttpBusinessRegistry(f"http://127.0.0.1:{free_port()}/x", SECRET, timeout=2)
    with pytest.raises(SourceUnavailable, match="cannot be reached"):
        await source.look_up(credit_code=str(APPLICATION["credit_code"]), request_id="r-1")


async def test_the_registry_answers_with_its_entry(gateway: Gateway) -> None:
    gateway.answer = {
        "result": "match",
        "company_name": "示例科技有限公司",
        "legal_representative": "张三",
        "status": "存续",
    }
    registry = HttpBusinessRegistry(gateway.url, SECRET, timeout=5)
    answer = await registry.look_up(credit_code="91350100M000100Y43", request_id="r-9")
    assert answer.record == {
        "company_name": "示例科技有限公司",
        "legal_representative": "张三",
        "status": "存续",
    }
    assert gateway.questions == [{"request_id": "r-9", "credit_code": "91350100M000100Y43"}]
    # A registry has no "mismatch": it holds an entry under the code or not.
    gateway.answer = {"result": "mismatch"}
    with pytest.raises(SourceUnavailable):
        await registry.look_up(credit_code="91350100M000100Y43", request_id="r-10")


async def test_the_fakes_know_only_what_they_are_told(tmp_path: Path) -> None:
    fake = FakeIdentitySource()
    assert fake.name == "fake"
    valid = await fake.check_identity(id_number=VALID_ID, name="张三", request_id="r")
    assert valid.verdict is SourceVerdict.MATCH
    bad = await fake.check_identity(id_number="110105194912310021", name="张三", request_id="r")
    assert bad.verdict is SourceVerdict.NOT_FOUND
    listed = tmp_path / "registry.json"
    listed.write_text(
        json.dumps({"91350100M000100Y43": {"company_name": "示例", "status": "存续"}}),
        encoding="utf-8",
    )
    registry = FakeBusinessRegistry.from_file(listed)
    assert (await registry.look_up(credit_code="91350100M000100Y43", request_id="r")).record[
        "status"
    ] == "存续"
    unknown = await registry.look_up(credit_code="91110000600037341L", request_id="r")
    assert unknown.verdict is SourceVerdict.NOT_FOUND
    listed.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="credit code"):
        FakeBusinessRegistry.from_file(listed)


@pytest.mark.parametrize(
    "settings",
    [
        {"identity_source": "http"},
        {
            "identity_source": "http",
            "identity_source_url": "ftp://x",
            "identity_source_secret": "s",
        },
        {"registry_source": "http", "registry_source_url": "https://registry.example"},
        {"source_gate": "true"},
        {"source_gate": "true", "identity_source": "fake"},
        {"registry_source": "fake", "registry_source_fake_file": "/nonexistent.json"},
    ],
)
def test_settings_refuse_a_source_that_cannot_work_or_a_gate_on_a_fake(
    settings: dict[str, str],
) -> None:
    with pytest.raises(ConfigError):
        Settings.from_mapping(settings)


async def gated_service(tmp_path: Path, sqlite_url: str, gateway: Gateway) -> Service:
    service = await start_service(
        tmp_path,
        sqlite_url,
        kyc_workers="1",
        identity_source="http",
        identity_source_url=gateway.url,
        identity_source_secret=SECRET,
        registry_source="http",
        registry_source_url=gateway.url,
        registry_source_secret=SECRET,
        source_timeout_seconds="5",
        source_gate="true",
    )
    await service.add_user("m1", Role.MANAGER)
    return service


async def test_the_sources_gate_identity_verified_and_show_beside_the_checks(
    tmp_path: Path, sqlite_url: str, gateway: Gateway
) -> None:
    service = await gated_service(tmp_path, sqlite_url, gateway)
    try:
        ready = await service.browser().request("GET", "/readyz")
        assert ready.body["identity_sources"] == {
            "identity": "http",
            "registry": "http",
            "gate": True,
        }
        applicant, app_id = await consenting_applicant(service)
        id_front, id_back, licence, id_number = matching_documents()
        # The platform says the number is not the legal representative's.
        gateway.answer = {"result": "mismatch"}
        front = await upload(applicant, "id_front", id_front)
        assert front.status == 201, front.text
        assert front.body["passed"]
        assert front.body["source_check"]["verdict"] == "mismatch"
        assert front.body["source_check"]["passed"] is False
        asked = gateway.questions[-1]
        assert asked["id_number"] == id_number
        assert asked["name"] == APPLICATION["legal_rep_name"]
        assert (await upload(applicant, "id_back", id_back)).status == 201
        gateway.answer = {
            "result": "match",
            "company_name": APPLICATION["company_name"],
            "legal_representative": APPLICATION["legal_rep_name"],
            "status": "注销",
        }
        read = await upload(applicant, "licence", licence)
        registry = read.body["source_check"]
        assert registry["kind"] == "registry"
        checks = {c["name"]: c["passed"] for c in registry["checks"]}
        assert checks == {
            "registry_in_business": False,
            "registry_company_name": True,
            "registry_legal_representative": True,
        }

        # Every document check passed and the face asks for review, yet the
        # sources disagree: a manager cannot confirm the identity.
        await record_attempt(service, app_id, "review")
        manager = await service.staff("m1")
        confirm = {"action": "confirm_identity", "comment": "checked on the call"}
        path = f"/api/applications/{app_id}/actions"
        refused = await manager.request("POST", path, json=confirm)
        assert refused.status == 409, refused.text
        assert "registry" in refused.body["message"]

        summary = (await manager.request("GET", f"/api/applications/{app_id}/kyc")).body
        assert summary["source_checks"]["identity"]["verdict"] == "mismatch"
        assert summary["source_checks"]["registry"]["record"]["status"] == "注销"

        # Both sources agree after the documents are sent again.
        gateway.answer = {"result": "match"}
        assert (await upload(applicant, "id_front", id_front)).body["source_check"]["passed"]
        gateway.answer = {
            "result": "match",
            "company_name": APPLICATION["company_name"],
            "legal_representative": APPLICATION["legal_rep_name"],
            "status": "存续",
        }
        assert (await upload(applicant, "licence", licence)).body["source_check"]["passed"]
        confirmed = await manager.request("POST", path, json=confirm)
        assert confirmed.status == 200, confirmed.text
        assert confirmed.body["state"] == "identity_verified"

        trail = (await manager.request("GET", f"/api/applications/{app_id}/audit")).body
        answers = [e for e in trail["items"] if e["action"] == "kyc.source_checked"]
        assert [e["details"]["verdict"] for e in answers] == ["mismatch", "match", "match", "match"]
        assert id_number not in json.dumps(trail, ensure_ascii=False)
    finally:
        await stop_service(service)


async def test_a_source_that_does_not_answer_never_passes(
    tmp_path: Path, sqlite_url: str, gateway: Gateway
) -> None:
    service = await gated_service(tmp_path, sqlite_url, gateway)
    try:
        applicant, app_id = await consenting_applicant(service)
        id_front, id_back, licence, _ = matching_documents()
        gateway.status = 500
        front = await upload(applicant, "id_front", id_front)
        assert front.status == 201, front.text
        assert front.body["source_check"]["verdict"] == "unavailable"
        reasons = [c["reason"] for c in front.body["source_check"]["checks"]]
        assert reasons == ["identity_source_unavailable"]
        gateway.status = 200
        gateway.answer = {
            "result": "match",
            "company_name": APPLICATION["company_name"],
            "legal_representative": APPLICATION["legal_rep_name"],
            "status": "存续",
        }
        await upload(applicant, "id_back", id_back)
        await upload(applicant, "licence", licence)
        await record_attempt(service, app_id, "review")
        manager = await service.staff("m1")
        refused = await manager.request(
            "POST",
            f"/api/applications/{app_id}/actions",
            json={"action": "confirm_identity", "comment": "checked on the call"},
        )
        assert refused.status == 409
    finally:
        await stop_service(service)


async def test_the_demo_registry_knows_the_demo_company() -> None:
    demo = FakeBusinessRegistry.from_file(Path(web.__file__).parent / "demo_registry.json")
    found = await demo.look_up(credit_code=DEMO_APPLICATION.credit_code, request_id="r")
    assert found.record["company_name"] == DEMO_APPLICATION.company_name
    assert found.record["legal_representative"] == DEMO_APPLICATION.legal_rep_name
