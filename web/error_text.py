"""The text a page shows for a domain error, in the reader's language.

Errors carry a stable code and, where one code covers several causes, a
`reason` in their details; both pick a catalogue key, and the error's other
details fill its placeholders. Errors without an entry keep their message.
/api/v1 answers the bank's systems, which read codes: it keeps the messages
as they are.
"""

from __future__ import annotations

from typing import Any

from web.i18n import translate


def N_(key: str) -> str:
    return key


# By code, or by code and reason (`code:reason`).
PAGE_TEXT: dict[str, str] = {
    "code_rejected:no_code": N_("error_code_rejected_no_code"),
    "code_rejected:expired": N_("error_code_rejected_expired"),
    "code_rejected:too_many_tries": N_("error_code_rejected_too_many_tries"),
    "code_rejected:wrong": N_("error_code_rejected_wrong"),
    "too_many_codes": N_("error_too_many_codes"),
    "not_in_interview": N_("error_not_in_interview"),
    "pages_unread": N_("error_pages_unread"),
    "identity_unverified": N_("error_identity_unverified"),
    "liveness_required": N_("error_liveness_required"),
    "already_signed": N_("error_already_signed"),
    "not_signed": N_("error_not_signed"),
    "contract_closed": N_("error_contract_closed"),
    "contract_busy": N_("error_contract_busy"),
    "no_usable_face:no_face": N_("error_face_no_face"),
    "no_usable_face:several_faces": N_("error_face_several_faces"),
    "no_usable_face:too_small": N_("error_face_too_small"),
    "no_usable_face:cut_off": N_("error_face_cut_off"),
    "no_usable_face:too_dark": N_("error_face_too_dark"),
    "no_usable_face:too_bright": N_("error_face_too_bright"),
    "no_usable_face:blurred": N_("error_face_blurred"),
    "no_usable_face:tilted": N_("error_face_tilted"),
    "no_usable_face:turned_away": N_("error_face_turned_away"),
    "no_usable_face:no_live_frame": N_("error_face_no_live_frame"),
    "unsupported_type": N_("error_unsupported_type"),
    "too_small": N_("error_photo_too_small"),
    "corrupt_image": N_("error_corrupt_image"),
    "unreadable_image": N_("error_unreadable_image"),
    "read_timed_out": N_("error_read_timed_out"),
    "worker_failed": N_("error_worker_failed"),
    "not_enough_frames": N_("error_not_enough_frames"),
    "liveness_attempt_used": N_("error_liveness_attempt_used"),
    "live_recheck_required": N_("error_live_recheck_required"),
    "live_check_running": N_("error_live_check_running"),
}


def page_message(code: str, details: dict[str, Any] | None, language: str) -> str | None:
    """The translated text for this error, or None where the catalogue has none."""
    details = details or {}
    key = PAGE_TEXT.get(f"{code}:{details.get('reason')}") or PAGE_TEXT.get(code)
    if key is None:
        return None
    values = {k: v for k, v in details.items() if isinstance(v, str | int) and k != "reason"}
    return translate(language, key, **values)
