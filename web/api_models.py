"""Bodies of /api/v1 requests and responses; the OpenAPI document is built from them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from web.schemas import Body


class CancelBody(Body):
    reason: str = Field(min_length=1, max_length=4000)


class ApplicationOut(BaseModel):
    id: str
    company_name: str
    credit_code: str
    legal_rep_name: str
    legal_rep_phone: str
    loan_amount: str
    term_months: int
    annual_rate_percent: str
    repayment_method: Literal["equal_instalment", "equal_principal"]
    state: str
    version: int
    created_at: str
    updated_at: str


class ApplicationPage(BaseModel):
    items: list[ApplicationOut]
    total: int
    offset: int
    limit: int


class InviteOut(BaseModel):
    id: str
    link: str
    created_at: str
    expires_at: str


class KycOut(BaseModel):
    documents: dict[str, Any]
    # What the identity platform and the business registry said, by kind.
    source_checks: dict[str, Any]
    face_match: dict[str, Any] | None
    liveness: dict[str, Any] | None


class ContractOut(BaseModel):
    id: str
    contract_number: str
    template_version: int
    pdf_sha256: str
    page_count: int
    status: Literal["pushed", "failed", "signed"]
    pushed_at: str
    pages_read: list[int]
    code_sent: bool
    progress: str | None
    signed_sha256: str | None
    signed_at: str | None
    last_error: str | None


class ErrorOut(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    details: dict[str, Any] | None = None
