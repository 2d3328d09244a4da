"""Sealing arbitrary statements (audit checkpoints, evidence manifests) with the bank's seal.

A detached CMS SignedData by the seal key, with a signature timestamp from the
configured TSA (CAdES-T); checked against the service root without a network.
"""

from __future__ import annotations

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign import signers
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext


async def seal(data: bytes, signer: signers.Signer, timestamper: TimeStamper) -> bytes:
    content = await signer.async_sign_general_data(
        data, "sha256", detached=True, timestamper=timestamper
    )
    sealed: bytes = content.dump()
    return sealed


async def check_seal(
    data: bytes, sealed: bytes, trust_roots: list[asn1_x509.Certificate]
) -> str | None:
    """None if `sealed` is a valid, trusted, timestamped seal over `data`; else why not."""
    try:
        # strict: trailing bytes after the DER structure are refused, not ignored
        content = cms.ContentInfo.load(sealed, strict=True)
        signed_data = content["content"]
        context = ValidationContext(
            trust_roots=trust_roots, allow_fetching=False, revocation_mode="soft-fail"
        )
        status = await async_validate_detached_cms(
            data,
            signed_data,
            signer_validation_context=context,
            key_usage_settings=KeyUsageConstraints(key_usage={"digital_signature"}),
        )
    except (ValueError, TypeError, KeyError) as exc:
        return f"unreadable seal ({type(exc).__name__})"
    if not status.intact or not status.valid:
        return "the seal does not match the statement"
    if not status.trusted:
        return "the sealing certificate is not trusted"
    timestamp = status.timestamp_validity
    if timestamp is None or not (timestamp.intact and timestamp.valid and timestamp.trusted):
        return "no trusted timestamp on the seal"
    return None
