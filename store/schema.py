"""Table definitions (SQLAlchemy Core). Migrations in store/migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("password_changed_at", UTCDateTime(), nullable=False),
)

# The session token is never stored: `id` is its SHA-256.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=True),
    Column("invite_id", String(36), ForeignKey("invites.id"), nullable=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)

applications = Table(
    "applications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("company_name", String(100), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("legal_rep_name", String(30), nullable=False),
    Column("legal_rep_phone", String(11), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("term_months", Integer, nullable=False),
    # Annual rate in parts per million (3.85 % is 38500): exact on every backend.
    Column("annual_rate_ppm", Integer, nullable=False),
    Column("repayment_method", String(32), nullable=False),
    Column("manager_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("state", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_applications_manager_id", "manager_id"),
    Index("ix_applications_state", "state"),
)

# The invite token is never stored: `token_hash` is its SHA-256.
invites = Table(
    "invites",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_opened_at", UTCDateTime(), nullable=True),
    Index("ix_invites_application_id", "application_id"),
)

# Each consent is its own record: the interview's recording, the processing of
# identity documents and business data, and (separately, and declinable) of
# biometric information. A later record of the same purpose replaces the earlier
# one (a biometric consent withdrawn is a record with granted false); the history
# stays.
consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("invite_id", String(36), ForeignKey("invites.id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("text_version", String(32), nullable=False),
    Column("language", String(8), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_consent_records_application_id", "application_id"),
)

# Append-only, hash-chained. Triggers (see the initial migration) refuse UPDATE,
# DELETE and any INSERT that does not extend the chain at its head.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("application_id", String(36), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("entry_hash", String(64), nullable=False, unique=True),
    Index("ix_audit_log_application_id", "application_id"),
)

# One row per document photo read; the image itself is a blob named by its SHA-256.
kyc_documents = Table(
    "kyc_documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("image_sha256", String(64), nullable=False),
    Column("fields", Text, nullable=False),
    Column("checks", Text, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_kyc_documents_application_id", "application_id"),
)

# Each comparison of the applicant's face with the ID card portrait. The distance
# is stored as text with fixed decimals: exact, and the same string the audit
# entry carries.
face_matches = Table(
    "face_matches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("reference_sha256", String(64), nullable=False),
    Column("probe_sha256", String(64), nullable=False),
    Column("distance", String(16), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_face_matches_application_id", "application_id"),
)

# A liveness attempt: the random challenges issued, and what the recorded clip showed.
liveness_attempts = Table(
    "liveness_attempts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("challenges", Text, nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", Text, nullable=True),
    Column("video_sha256", String(64), nullable=True),
    Column("completed_at", UTCDateTime(), nullable=True),
    Index("ix_liveness_attempts_application_id", "application_id"),
)

# Contract templates, versioned: a new text is a new version, never an edit.
contract_templates = Table(
    "contract_templates",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),
    Column("note", String(200), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# A contract pushed to an applicant, and how far its signing has come. The signed
# file is referenced only once every step succeeded; `partial_sha256` holds the
# file after the last step that did, so a failed step can be retried.
contracts = Table(
    "contracts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("contract_number", String(32), nullable=False, unique=True),
    Column("template_version", Integer, nullable=False),
    Column("pdf_sha256", String(64), nullable=False),
    Column("page_count", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("pushed_by", String(64), nullable=False),
    Column("pushed_at", UTCDateTime(), nullable=False),
    Column("pages_read", Text, nullable=False),
    Column("otp_hash", String(64), nullable=True),
    Column("otp_expires_at", UTCDateTime(), nullable=True),
    Column("otp_attempts", Integer, nullable=False),
    Column("partial_sha256", String(64), nullable=True),
    Column("partial_step", String(32), nullable=True),
    Column("signed_sha256", String(64), nullable=True),
    Column("signed_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_contracts_application_id", "application_id"),
)

# Certificates the service CA issued below its issuing CA (event certificates, and
# the seal when it is re-certified), for OCSP answers and for evidence.
certificates = Table(
    "certificates",
    metadata,
    Column("serial", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("application_id", String(36), nullable=True),
    Column("contract_id", String(36), nullable=True),
    Column("not_before", UTCDateTime(), nullable=False),
    Column("not_after", UTCDateTime(), nullable=False),
    Column("details", Text, nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
)

revocations = Table(
    "revocations",
    metadata,
    Column("serial", String(64), primary_key=True),
    Column("issuer", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=False),
    Column("revoked_by", String(64), nullable=False),
)

# API keys for machine clients: only a SHA-256 of the key is kept; the prefix finds it.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
)

# The first answer to a create call with an Idempotency-Key, replayed on a retry.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", String(36), ForeignKey("api_keys.id"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("events", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
)

# One row per (event, subscription): written once, in the same transaction that
# moves the cursor over the audit entry the event comes from.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("event_id", String(40), nullable=False),
    Column("subscription_id", String(36), ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    UniqueConstraint("event_id", "subscription_id", name="uq_webhook_deliveries_event_id"),
    Index("ix_webhook_deliveries_status", "status"),
)

# How far the event dispatcher has read the audit log (one row).
webhook_cursor = Table(
    "webhook_cursor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
)

# Signed, timestamped commitments to the audit log (audit/checkpoints.py): the Merkle
# root of the first `tree_size` entries, and of the range since the previous one.
# The audit log's Merkle tree, complete subtrees only: (level, position) is the
# root over leaves [position * 2**level, (position + 1) * 2**level). Derived from
# the log (audit/tree.py); proofs read O(log n) rows of it instead of the log.
audit_tree = Table(
    "audit_tree",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("range_start", BigInteger, nullable=False),
    Column("tree_root", String(64), nullable=False),
    Column("range_root", String(64), nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("statement", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Applicants waiting for their call, longest wait first: in the database so that
# every node's console shows the same queue.
call_queue = Table(
    "call_queue",
    metadata,
    Column("application_id", String(36), ForeignKey("applications.id"), primary_key=True),
    Column("since", UTCDateTime(), nullable=False),
)

# Which node hosts each call, and since which epoch (cluster/placement.py). The
# epoch grows each time the call is placed or moves; a node writes for a call
# only while the row still names it with its epoch, so one that comes back late
# cannot keep writing for a call it lost. `ended_at` set: no call now.
call_placements = Table(
    "call_placements",
    metadata,
    Column("application_id", String(36), ForeignKey("applications.id"), primary_key=True),
    Column("node_id", String(128), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("placed_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Index("ix_call_placements_node_id", "node_id"),
)

# The recording segment a node is writing, uploaded in pieces as it grows: what
# is left of it when the node dies (interview/recording_spool.py). The pieces are
# blobs; the rows go once the whole segment is stored.
recording_chunks = Table(
    "recording_chunks",
    metadata,
    Column("application_id", String(36), primary_key=True),
    Column("file", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("side", String(16), nullable=False),
    Column("segment", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("size", Integer, nullable=False),
    Column("node_id", String(128), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("uploaded_at", UTCDateTime(), nullable=False),
)

# Background work that one node at a time may do (store/leases.py).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# Results of identity-check jobs run by `signroom worker`s (jobs/): one per job
# id, so a job delivered twice stores one result.
job_results = Table(
    "job_results",
    metadata,
    Column("job_id", String(128), primary_key=True),
    Column("function", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("worker", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# What an outside source said of an application's documents: the national
# identity platform (or the bank's gateway) of the ID card's number and name, a
# business registry of the licence's credit code. Only the verdict, the request
# id we sent, the source's own reference and the time are kept; never the ID
# number (document_id names the reading it came from). A registry's answer is
# public business data and is kept to show what was compared.
source_checks = Table(
    "source_checks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", String(64), nullable=False),
    Column("document_id", String(36), ForeignKey("kyc_documents.id"), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("reference", String(128), nullable=False),
    Column("record", Text, nullable=False),
    Column("checks", Text, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("checked_at", UTCDateTime(), nullable=False),
    Index("ix_source_checks_application_id", "application_id"),
)

# A data subject's request (PIPL Art. 44-47): access and copy, correction,
# deletion, withdrawal of consent; a task with the date it is due by, carried out
# (or refused with the reason) and audited.
subject_requests = Table(
    "subject_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
    Column("outcome", Text, nullable=True),
    Index("ix_subject_requests_application_id", "application_id"),
)
