"""The identity platform and the business registry over HTTP: one signed JSON
request per question, a signed JSON answer, a timeout.

Request: POST to the configured URL with `{"request_id", "id_number", "name"}`
(identity) or `{"request_id", "credit_code"}` (registry), signed as everything the
service sends (integration/signature.py). Answer: 200 with `{"request_id",
"result", "reference"}` (`result`: match, mismatch or not_found; a registry adds
`company_name`, `legal_representative` and `status`), signed the same way with the
same secret. An answer that is late, unsigned, signed wrongly, about another
request or malformed is no answer: a forged "match" must not verify anyone. The
bank's gateway to the national platform (or a registry) speaks this on one side
and the platform's own protocol on the other.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from integration.signature import signed_headers, verify
from kyc.sources import SourceAnswer, SourceUnavailable, SourceVerdict

IDENTITY_RESULTS = frozenset({SourceVerdict.MATCH, SourceVerdict.MISMATCH, SourceVerdict.NOT_FOUND})
REGISTRY_RESULTS = frozenset({SourceVerdict.MATCH, SourceVerdict.NOT_FOUND})
REGISTRY_FIELDS = ("company_name", "legal_representative", "status")
MAX_ANSWER_BYTES = 64 * 1024


class SignedJsonSource:
    def __init__(self, name: str, url: str, secret: str, timeout: float) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def ask(self, question: dict[str, str]) -> dict[str, Any]:
        body = json.dumps(question, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **signed_headers(self._secret, body)}
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(self._url, data=body, headers=headers) as response,
            ):
                if response.status != 200:
                    raise SourceUnavailable(f"answered HTTP {response.status}")
                answer = await response.content.read(MAX_ANSWER_BYTES + 1)
                signed = dict(response.headers)
        except TimeoutError:
            raise SourceUnavailable("no answer in time") from None
        except aiohttp.ClientError as exc:
            raise SourceUnavailable(f"cannot be reached ({type(exc).__name__})") from None
        if len(answer) > MAX_ANSWER_BYTES:
            raise SourceUnavailable("answer too large")
        if not verify(self._secret, signed, answer):
            raise SourceUnavailable("answer not signed with the shared secret")
        try:
            parsed = json.loads(answer)
        except ValueError:
            raise SourceUnavailable("answer is not JSON") from None
        if not isinstance(parsed, dict) or parsed.get("request_id") != question["request_id"]:
            raise SourceUnavailable("answer is not about this request")
        return parsed


def _answer(parsed: dict[str, Any], allowed: frozenset[SourceVerdict]) -> SourceVerdict:
    try:
        verdict = SourceVerdict(str(parsed.get("result")))
    except ValueError:
        raise SourceUnavailable("answer has no known result") from None
    if verdict not in allowed:
        raise SourceUnavailable("answer has no known result")
    return verdict


def _text(parsed: dict[str, Any], key: str) -> str:
    value = parsed.get(key, "")
    if not isinstance(value, str):
        raise SourceUnavailable(f"answer's {key} is not text")
    return value


class HttpIdentitySource:
    def __init__(self, url: str, secret: str, timeout: float) -> None:
        self._client = SignedJsonSource("http", url, secret, timeout)
        self.name = "http"

    async def check_identity(self, *, id_number: str, name: str, request_id: str) -> SourceAnswer:
        parsed = await self._client.ask(
            {"request_id": request_id, "id_number": id_number, "name": name}
        )
        return SourceAnswer(_answer(parsed, IDENTITY_RESULTS), _text(parsed, "reference"))


class HttpBusinessRegistry:
    def __init__(self, url: str, secret: str, timeout: float) -> None:
        self._client = SignedJsonSource("http", url, secret, timeout)
        self.name = "http"

    async def look_up(self, *, credit_code: str, request_id: str) -> SourceAnswer:
        parsed = await self._client.ask({"request_id": request_id, "credit_code": credit_code})
        verdict = _answer(parsed, REGISTRY_RESULTS)
        record = (
            {key: _text(parsed, key) for key in REGISTRY_FIELDS}
            if verdict is SourceVerdict.MATCH
            else {}
        )
        return SourceAnswer(verdict, _text(parsed, "reference"), record)
