"""Errors of the signing package, each with a stable machine-readable code.

`step` names the pipeline step that failed, so a caller can say exactly what to
retry (render, applicant_sign, bank_sign, timestamp, validation_data, ...).
"""

from __future__ import annotations

from errors import SignroomError


class SigningError(SignroomError):
    code = "signing_error"

    @property
    def step(self) -> str | None:
        step = self.details.get("step")
        return step if isinstance(step, str) else None


class TemplateInvalid(SigningError):
    code = "template_invalid"


class PkiUnavailable(SigningError):
    """Keys or certificates could not be loaded (missing files, wrong passphrase)."""

    code = "pki_unavailable"


class SealUnavailable(SigningError):
    """The bank's seal key (PKCS#11 token or key file) could not be used."""

    code = "seal_unavailable"


class TimestampUnavailable(SigningError):
    code = "timestamp_unavailable"


class CertificateRevoked(SigningError):
    code = "certificate_revoked"


class NotAGeneratedContract(SigningError):
    """Only contracts this service rendered are ever signed."""

    code = "not_a_generated_contract"


class PdfUnreadable(SigningError):
    code = "pdf_unreadable"


class ContractConflict(SigningError):
    code = "contract_conflict"


class CodeRejected(SigningError):
    code = "code_rejected"


class TooManyCodes(SigningError):
    code = "too_many_codes"


class RevocationRefused(SigningError):
    code = "revocation_refused"


class SelftestFailed(SigningError):
    code = "selftest_failed"


class ValidationFailed(SigningError):
    code = "validation_failed"


class MarkInvalid(SigningError):
    code = "mark_invalid"
