"""RFC 3161 time-stamping authority.

`respond` turns a DER TimeStampReq into a DER TimeStampResp; the HTTP route
(`application/timestamp-query`) and the in-process client used by the signing
pipeline both go through it, so the built-in TSA behaves the same either way.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import ClassVar

from asn1crypto import algos, cms, core, tsp
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper

from signing.pki.authority import Credential
from signing.pki.keys import Clock, simple_signer
from signing.pki.policies import TSA_POLICY

ACCEPTED_DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64}


class _RejectedResponse(core.Sequence):  # type: ignore[misc]
    """TimeStampResp without its OPTIONAL token, which asn1crypto's class requires."""

    _fields: ClassVar = [("status", tsp.PKIStatusInfo)]


def _rejection(fail_info: str, text: str) -> bytes:
    response: bytes = _RejectedResponse(
        {
            "status": {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({fail_info}),
            }
        }
    ).dump()
    return response


class TimeStampAuthority:
    def __init__(self, credential: Credential, chain: list[Credential] | None = None) -> None:
        self._signer = simple_signer(credential, [c.certificate for c in chain or []])

    async def respond(self, request_der: bytes, now: datetime) -> bytes:
        try:
            request = tsp.TimeStampReq.load(request_der)
            version = request["version"].native
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            policy = request["req_policy"].native
            nonce = request["nonce"].native
            cert_req = bool(request["cert_req"].native)
        except (ValueError, TypeError, KeyError):
            return _rejection("bad_data_format", "the request is not a DER TimeStampReq")
        if version != "v1":
            return _rejection("bad_request", "only version 1 requests are accepted")
        if algorithm not in ACCEPTED_DIGESTS:
            return _rejection("bad_alg", "message imprint must use SHA-256, SHA-384 or SHA-512")
        if not isinstance(digest, bytes) or len(digest) != ACCEPTED_DIGESTS[algorithm]:
            return _rejection(
                "bad_data_format", "message imprint length does not fit its algorithm"
            )
        if policy is not None and policy != TSA_POLICY:
            return _rejection("unaccepted_policy", "this TSA only issues under its own policy")
        info: dict[str, object] = {
            "version": "v1",
            "policy": TSA_POLICY,
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                    "hashed_message": digest,
                }
            ),
            "serial_number": secrets.randbits(127),
            # Whole seconds (the stated accuracy), so revocation data produced in the
            # same second is never dated before the token.
            "gen_time": core.GeneralizedTime(now.replace(microsecond=0)),
            "accuracy": {"seconds": 1},
            "ordering": False,
        }
        if nonce is not None:
            info["nonce"] = nonce
        content = cms.EncapsulatedContentInfo(
            {"content_type": "tst_info", "content": tsp.TSTInfo(info)}
        )
        token = await self._signer.async_sign_general_data(
            content,
            "sha256",
            detached=False,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=now),
        )
        if not cert_req:
            token["content"]["certificates"] = cms.CertificateSet([])
        response: bytes = tsp.TimeStampResp(
            {"status": {"status": "granted"}, "time_stamp_token": token}
        ).dump()
        return response


class InProcessTimeStamper(TimeStamper):
    """pyHanko time stamper answered by the built-in TSA without a network round trip."""

    def __init__(self, authority: TimeStampAuthority, clock: Clock) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._authority = authority
        self._clock = clock

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(await self._authority.respond(req.dump(), self._clock()))
