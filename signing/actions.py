"""The audit actions of the contract and of the certificates that sign it."""

from __future__ import annotations

from enum import StrEnum


class ContractAction(StrEnum):
    TEMPLATE_SAVED = "contract.template_saved"
    PUSHED = "contract.pushed"
    PAGE_READ = "contract.page_read"
    CODE_SENT = "contract.code_sent"
    CODE_ACCEPTED = "contract.code_accepted"
    CODE_REJECTED = "contract.code_rejected"
    # The signing steps in order, each recorded once with the document's digest
    # before and after (signing/contracts.py, record_step).
    APPLICANT_SIGNED = "contract.applicant_signed"
    BANK_SEALED = "contract.bank_sealed"
    LONG_TERM_VALIDATION = "contract.long_term_validation"
    SIGNED = "contract.signed"
    SIGNING_FAILED = "contract.signing_failed"

    @classmethod
    def of_step(cls, step: str) -> ContractAction:
        """The action recording a signing step; ValueError for a step that is none."""
        return cls(f"contract.{step}")


class PkiAction(StrEnum):
    CERTIFICATE_ISSUED = "pki.certificate_issued"
    CERTIFICATE_REVOKED = "pki.certificate_revoked"
