"""Request bodies of the JSON endpoints: strict types, no unknown fields."""

from __future__ import annotations

from typing import Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from web import errors
from web.keys import SETTINGS


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class NewApplicationBody(Body):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "company_name": "示例科技有限公司",
                    "credit_code": "91350100M000100Y43",
                    "legal_rep_name": "张三",
                    "legal_rep_phone": "13800138000",
                    "loan_amount": "150000.00",
                    "term_months": 12,
                    "annual_rate_percent": "3.85",
                    "repayment_method": "equal_instalment",
                }
            ]
        },
    )

    company_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=40)
    legal_rep_name: str = Field(max_length=60)
    legal_rep_phone: str = Field(max_length=20)
    loan_amount: str = Field(max_length=20, description='yuan, e.g. "150000.00"')
    term_months: int
    annual_rate_percent: str = Field(max_length=12, description='percent, e.g. "3.85"')
    repayment_method: Literal["equal_instalment", "equal_principal"]


class ActionBody(Body):
    action: str = Field(max_length=40)
    comment: str | None = Field(default=None, max_length=4000)


class ConsentBody(Body):
    recording: bool
    data_use: bool


class NewUserBody(Body):
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=100)
    role: Literal["manager", "compliance", "admin"]


M = TypeVar("M", bound=Body)


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Read and validate a JSON body; every failure is a 4xx ApiError."""
    if request.content_type != "application/json":
        raise errors.UnsupportedMediaType("send the body as application/json")
    limit = request.app[SETTINGS].max_json_bytes
    if request.content_length is not None and request.content_length > limit:
        raise errors.PayloadTooLarge(f"JSON bodies are limited to {limit} bytes")
    raw = await request.read()
    if len(raw) > limit:
        raise errors.PayloadTooLarge(f"JSON bodies are limited to {limit} bytes")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(p["type"] == "json_invalid" for p in problems):
            raise errors.InvalidJson("the body is not valid JSON") from None
        fields = {".".join(str(part) for part in p["loc"]) or "body": p["msg"] for p in problems}
        raise errors.ValidationFailed(
            "the request body is invalid", details={"fields": fields}
        ) from None
