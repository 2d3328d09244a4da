"""The service CA's public face: certificates, CRLs, OCSP (RFC 6960) and time-stamping (RFC 3161).

No login: validators and time-stamp clients anywhere must reach these. Bodies are
small DER structures with tight size limits.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from signing.certificate_register import status_book
from signing.service import off_loop
from web import errors
from web.keys import ENGINE, SIGNING
from web.routes.documents import read_body

routes = web.RouteTableDef()

MAX_PKI_REQUEST = 8 * 1024


@routes.get("/pki/{which:root|issuing}.pem")
async def ca_certificate(request: web.Request) -> web.Response:
    authority = request.app[SIGNING].authority
    credential = authority.root if request.match_info["which"] == "root" else authority.issuing
    return web.Response(
        body=credential.certificate.public_bytes(serialization.Encoding.PEM),
        content_type="application/x-pem-file",
    )


@routes.get("/pki/{which:root|issuing}.crl")
async def crl(request: web.Request) -> web.Response:
    service = request.app[SIGNING]
    book = await status_book(request.app[ENGINE], service.service_serials())
    # Signing a CRL or an OCSP answer is a few milliseconds of CPU: off the loop.
    body = await asyncio.to_thread(service.crl, request.match_info["which"], book)
    return web.Response(body=body, content_type="application/pkix-crl")


def _asked_serial(der: bytes) -> list[int]:
    try:
        return [ocsp.load_der_ocsp_request(der).serial_number]
    except (ValueError, NotImplementedError):
        return []  # answered "malformedRequest" by the responder


async def _ocsp_answer(request: web.Request, der: bytes) -> web.Response:
    service = request.app[SIGNING]
    book = await status_book(request.app[ENGINE], service.service_serials(), _asked_serial(der))
    body = await asyncio.to_thread(service.ocsp, der, book)
    return web.Response(body=body, content_type="application/ocsp-response")


@routes.post("/pki/ocsp")
async def ocsp_post(request: web.Request) -> web.Response:
    if request.content_type != "application/ocsp-request":
        raise errors.UnsupportedMediaType("send an application/ocsp-request body")
    return await _ocsp_answer(request, await read_body(request, MAX_PKI_REQUEST))


@routes.get("/pki/ocsp/{request:.+}")
async def ocsp_get(request: web.Request) -> web.Response:
    encoded = request.match_info["request"]
    if len(encoded) > MAX_PKI_REQUEST:
        raise errors.PayloadTooLarge("OCSP request too long")
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("the OCSP request is not base64") from None
    return await _ocsp_answer(request, der)


@routes.post("/pki/tsa")
async def timestamp(request: web.Request) -> web.Response:
    if request.content_type != "application/timestamp-query":
        raise errors.UnsupportedMediaType("send an application/timestamp-query body")
    body = await read_body(request, MAX_PKI_REQUEST)
    service = request.app[SIGNING]
    reply = await off_loop(lambda: service.tsa.respond(body, service.clock()))
    return web.Response(body=reply, content_type="application/timestamp-reply")
