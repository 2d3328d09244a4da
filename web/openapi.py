"""The OpenAPI 3.1 document of /api/v1, built from the request and response models.

tests/test_api_v1.py checks that it names exactly the routes the app serves, and
runs schemathesis against the live service with it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from web.api_models import (
    ApplicationOut,
    ApplicationPage,
    CancelBody,
    ContractOut,
    ErrorOut,
    InviteOut,
    KycOut,
)
from web.auth.api_keys import Scope
from web.paging import MAX_OFFSET
from web.schemas import NewApplicationBody

MODELS: tuple[type[BaseModel], ...] = (
    NewApplicationBody,
    CancelBody,
    ApplicationOut,
    ApplicationPage,
    InviteOut,
    KycOut,
    ContractOut,
    ErrorOut,
)

ERRORS = {
    "400": "Malformed request",
    "401": "No valid API key",
    "403": "The key lacks the scope, or the application is not its manager's",
    "404": "No such application (or no contract yet)",
    "409": "Not possible in the application's current state",
    "413": "Body too large",
    "415": "Body must be application/json",
    "422": "The body is invalid",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _operation(
    operation_id: str,
    summary: str,
    scope: Scope,
    ok: tuple[str, dict[str, Any]],
    *,
    body: type[BaseModel] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    idempotent: bool = False,
) -> dict[str, Any]:
    params = list(parameters or [])
    if idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                "description": "Retries with the same key and body get the first answer again.",
            }
        )
    status, content = ok
    responses: dict[str, Any] = {status: {"description": "Success", "content": content}}
    for code, text in ERRORS.items():
        responses[code] = {"description": text, "content": _json(ErrorOut)}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "security": [{"apiKey": []}],
        "x-scope": scope.value,
        "responses": responses,
    }
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    return operation


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document(public_url: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    pdf = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    paging = [
        {
            "name": "offset",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        {
            "name": "state",
            "in": "query",
            "schema": {
                "type": "string",
                "enum": [
                    "draft",
                    "invited",
                    "identity_verified",
                    "in_interview",
                    "contract_signed",
                    "under_review",
                    "flagged",
                    "approved",
                    "rejected",
                    "cancelled",
                    "expired",
                ],
            },
        },
    ]
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "signroom API",
            "version": "1",
            "description": "Applications, invites, identity results and contracts for the "
            "bank's own systems. Authenticate with 'Authorization: Bearer srk_...' (keys are "
            "created by admins). Errors are JSON {code, message, request_id}.",
        },
        "servers": [{"url": public_url.rstrip("/")}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/v1/applications": {
                "post": _operation(
                    "createApplication",
                    "Create an application",
                    Scope.APPLICATIONS_WRITE,
                    ("201", _json(ApplicationOut)),
                    body=NewApplicationBody,
                    idempotent=True,
                ),
                "get": _operation(
                    "listApplications",
                    "List applications, newest first",
                    Scope.APPLICATIONS_READ,
                    ("200", _json(ApplicationPage)),
                    parameters=paging,
                ),
            },
            "/api/v1/applications/{id}": {
                "get": _operation(
                    "getApplication",
                    "Read an application",
                    Scope.APPLICATIONS_READ,
                    ("200", _json(ApplicationOut)),
                    parameters=[ID],
                )
            },
            "/api/v1/applications/{id}/cancel": {
                "post": _operation(
                    "cancelApplication",
                    "Cancel an application",
                    Scope.APPLICATIONS_WRITE,
                    ("200", _json(ApplicationOut)),
                    body=CancelBody,
                    parameters=[ID],
                )
            },
            "/api/v1/applications/{id}/invites": {
                "post": _operation(
                    "createInvite",
                    "Create an invite link for the applicant",
                    Scope.INVITES_WRITE,
                    ("201", _json(InviteOut)),
                    parameters=[ID],
                    idempotent=True,
                )
            },
            "/api/v1/applications/{id}/kyc": {
                "get": _operation(
                    "getKyc",
                    "Identity check results (ID numbers masked)",
                    Scope.KYC_READ,
                    ("200", _json(KycOut)),
                    parameters=[ID],
                )
            },
            "/api/v1/applications/{id}/contract": {
                "get": _operation(
                    "getContract",
                    "The contract's signing status",
                    Scope.CONTRACTS_READ,
                    ("200", _json(ContractOut)),
                    parameters=[ID],
                )
            },
            "/api/v1/applications/{id}/contract/document": {
                "get": _operation(
                    "getContractDocument",
                    "The signed contract (PAdES B-LTA PDF)",
                    Scope.CONTRACTS_READ,
                    ("200", pdf),
                    parameters=[ID],
                )
            },
        },
    }
    # Links let a client (and schemathesis' stateful phase) follow a created
    # application's id into the operations on it; a new one has no contract yet.
    created = document["paths"]["/api/v1/applications"]["post"]["responses"]["201"]
    created["links"] = {
        operation["operationId"]: {
            "operationId": operation["operationId"],
            "parameters": {"id": "$response.body#/id"},
        }
        for path, item in document["paths"].items()
        if "{id}" in path and "/contract" not in path
        for operation in item.values()
    }
    return document
