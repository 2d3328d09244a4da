"""The contract: the manager pushes it during the call, the applicant reads, proves
presence and signs on the phone, both download the signed file; staff validate PDFs."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from audit import log as audit
from compliance.actions import ComplianceAction
from compliance.evidence import build_package
from interview import contract_flow as flow
from interview.errors import ContractClosed, NotSigned
from loans import applications as apps
from loans.models import Application
from loans.roles import Role
from signing import contracts as contract_records
from signing.contracts import Contract, ContractStatus
from web import errors
from web.guards import principal_of, requires
from web.keys import (
    BLOBS,
    ENGINE,
    EVIDENCE,
    INTERVIEW,
    NOTIFIER,
    REQUEST_ID,
    SETTINGS,
    SIGNING,
    VALIDATION,
)
from web.render import render
from web.routes.documents import read_body
from web.schemas import Body, parse_body

routes = web.RouteTableDef()

MAX_MARK_BASE64 = 60_000


class SignBody(Body):
    code: str = Field(pattern=r"^[0-9]{6}$")
    mark_png: str = Field(max_length=MAX_MARK_BASE64, description="base64 PNG of the drawn mark")


async def _staff_application(request: web.Request) -> Application:
    return await apps.get_application(
        request.app[ENGINE],
        principal_of(request),
        request.match_info["id"],
        request_id=request.get(REQUEST_ID),
    )


async def _applicant_application(request: web.Request) -> Application:
    principal = principal_of(request)
    assert principal.application_id is not None
    return await apps.get_application(request.app[ENGINE], principal, principal.application_id)


async def _contract(request: web.Request, application: Application) -> Contract:
    contract = await contract_records.latest_contract(request.app[ENGINE], application.id)
    if contract is None:
        raise errors.NotFound("no contract has been pushed yet")
    return contract


def _contract_json(contract: Contract, **extra: Any) -> dict[str, Any]:
    return {**contract.as_json(), **extra}


def _pdf(data: bytes, filename: str) -> web.Response:
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Manager and compliance -----------------------------------------------------


@routes.post("/api/applications/{id}/contract")
@requires(Role.MANAGER)
async def push_contract(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    application = await _staff_application(request)
    contract = await flow.push(
        request.app[INTERVIEW], principal_of(request).actor, application, request.get(REQUEST_ID)
    )
    return web.json_response(_contract_json(contract), status=201)


@routes.get("/api/applications/{id}/contract")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def contract_status(request: web.Request) -> web.Response:
    application = await _staff_application(request)
    contract = await _contract(request, application)
    extra: dict[str, Any] = {}
    if principal_of(request).role is Role.MANAGER:
        # Only the demo's fake notifier has a code to show (see integration.notify).
        extra["demo_code"] = request.app[NOTIFIER].shown_to_manager(application.id)
    return web.json_response(_contract_json(contract, **extra))


@routes.get("/api/applications/{id}/contract/document")
@requires(Role.MANAGER, Role.COMPLIANCE)
async def contract_document(request: web.Request) -> web.Response:
    application = await _staff_application(request)
    contract = await _contract(request, application)
    digest = contract.signed_sha256 or contract.pdf_sha256
    suffix = "signed" if contract.signed_sha256 else "unsigned"
    return _pdf(await request.app[BLOBS].get(digest), f"{contract.contract_number}-{suffix}.pdf")


@routes.get("/api/applications/{id}/evidence.zip")
@requires(Role.COMPLIANCE)
async def evidence_package(request: web.Request) -> web.Response:
    """The sealed evidence package (see compliance/evidence.py); its export is audited.
    Compliance only: it holds the full ID number and the card images, which a
    manager's API and pages show masked."""
    application = await _staff_application(request)
    package = await build_package(request.app[EVIDENCE], application.id)
    return await exported_package(request, application, package, ComplianceAction.EVIDENCE_EXPORTED)


async def exported_package(
    request: web.Request, application: Application, package: bytes, action: ComplianceAction
) -> web.Response:
    """Keep a copy of what left the bank (retention deletes it in time), audit the
    export with its hash, and send it; the audit action names the file."""
    digest = await request.app[BLOBS].put(package)
    async with request.app[ENGINE].begin() as conn:
        await audit.append(
            conn,
            principal_of(request).actor,
            action,
            application_id=application.id,
            request_id=request.get(REQUEST_ID),
            details={"package_sha256": digest, "bytes": len(package)},
        )
    purpose = action.removesuffix(".exported").replace("_", "-")
    name = f"{purpose}-{application.id}.zip"
    return web.Response(
        body=package,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.post("/api/applications/{id}/contract/complete")
@requires(Role.MANAGER)
async def complete_contract(request: web.Request) -> web.Response:
    """Retry the bank's steps after one failed (seal token away, TSA down)."""
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    application = await _staff_application(request)
    contract = await flow.complete(request.app[INTERVIEW], application, request.get(REQUEST_ID))
    return web.json_response(_contract_json(contract))


# Applicant -------------------------------------------------------------------


@routes.get("/api/applicant/contract")
@requires(Role.APPLICANT)
async def applicant_contract(request: web.Request) -> web.Response:
    application = await _applicant_application(request)
    contract = await _contract(request, application)
    return web.json_response(_contract_json(contract))


@routes.get("/api/applicant/contract/pages/{page:[0-9]{1,3}}")
@requires(Role.APPLICANT)
async def contract_page(request: web.Request) -> web.Response:
    application = await _applicant_application(request)
    contract = await _contract(request, application)
    image = await flow.page_image(request.app[BLOBS], contract, int(request.match_info["page"]))
    return web.Response(body=image, content_type="image/png")


@routes.post("/api/applicant/contract/pages/{page:[0-9]{1,3}}/read")
@requires(Role.APPLICANT)
async def page_read(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    application = await _applicant_application(request)
    contract = await _contract(request, application)
    page = int(request.match_info["page"])
    if not 1 <= page <= contract.page_count:
        raise errors.NotFound(f"the contract has pages 1 to {contract.page_count}")
    updated = await contract_records.mark_page_read(
        request.app[ENGINE],
        principal_of(request).actor,
        contract,
        page,
        request_id=request.get(REQUEST_ID),
    )
    return web.json_response(_contract_json(updated))


@routes.post("/api/applicant/contract/code")
@requires(Role.APPLICANT)
async def send_code(request: web.Request) -> web.Response:
    if await request.read():
        raise errors.BadRequest("this endpoint takes no body")
    application = await _applicant_application(request)
    contract = await _contract(request, application)
    if contract.status not in contract_records.OPEN:
        raise ContractClosed("this contract is not waiting for a signature")
    await flow.send_code(
        request.app[INTERVIEW],
        principal_of(request).actor,
        application,
        contract,
        request.get(REQUEST_ID),
    )
    minutes = request.app[SETTINGS].signing_code_minutes
    reaches = request.app[INTERVIEW].notifier.reaches_applicant
    return web.json_response(
        {"sent": True, "valid_minutes": minutes, "to": "applicant" if reaches else "manager"}
    )


@routes.post("/api/applicant/contract/sign")
@requires(Role.APPLICANT)
async def sign_contract(request: web.Request) -> web.Response:
    body = await parse_body(request, SignBody)
    application = await _applicant_application(request)
    contract = await _contract(request, application)
    mark = flow.decode_mark(body.mark_png)
    if contract.status not in contract_records.OPEN:
        raise ContractClosed("this contract is not waiting for a signature")
    signed = await flow.sign(
        request.app[INTERVIEW],
        principal_of(request).actor,
        application,
        contract,
        body.code,
        mark,
        request.get(REQUEST_ID),
    )
    return web.json_response(_contract_json(signed))


@routes.get("/api/applicant/contract/document")
@requires(Role.APPLICANT)
async def signed_document(request: web.Request) -> web.Response:
    application = await _applicant_application(request)
    contract = await _contract(request, application)
    if contract.status is not ContractStatus.SIGNED or contract.signed_sha256 is None:
        raise NotSigned("the contract is not signed yet")
    data = await request.app[BLOBS].get(contract.signed_sha256)
    return _pdf(data, f"{contract.contract_number}.pdf")


# Validation ------------------------------------------------------------------


@routes.get("/verify")
@requires(Role.MANAGER, Role.COMPLIANCE, Role.ADMIN)
async def verify_page(request: web.Request) -> web.Response:
    return render(request, "verify.html")


@routes.post("/api/verify-pdf")
@requires(Role.MANAGER, Role.COMPLIANCE, Role.ADMIN)
async def verify_pdf(request: web.Request) -> web.Response:
    if request.content_type != "application/pdf":
        raise errors.UnsupportedMediaType("send the file as application/pdf")
    data = await read_body(request, request.app[SETTINGS].max_pdf_bytes)
    if not data.startswith(b"%PDF-"):
        raise errors.ValidationFailed("this is not a PDF file")
    report = await request.app[VALIDATION].validate(data, request.app[SIGNING].trust_roots_der())
    return web.json_response(report)
