"""Initial schema: staff, sessions, applications, invites, consents, audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64

SQLITE_AUDIT_TRIGGERS = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    f"""CREATE TRIGGER audit_log_extend_head BEFORE INSERT ON audit_log
       WHEN NEW.seq <> COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
         OR NEW.prev_hash <> COALESCE(
              (SELECT entry_hash FROM audit_log WHERE seq = NEW.seq - 1), '{GENESIS}')
       BEGIN SELECT RAISE(ABORT, 'audit_log insert does not extend the chain head'); END""",
]

POSTGRES_AUDIT_TRIGGERS = [
    """CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""",
    f"""CREATE FUNCTION audit_log_check_head() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.seq <> COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
            OR NEW.prev_hash <> COALESCE(
                 (SELECT entry_hash FROM audit_log WHERE seq = NEW.seq - 1), '{GENESIS}')
         THEN RAISE EXCEPTION 'audit_log insert does not extend the chain head';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()""",
    """CREATE TRIGGER audit_log_extend_head BEFORE INSERT ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_check_head()""",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("password_changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("company_name", sa.String(100), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("legal_rep_name", sa.String(30), nullable=False),
        sa.Column("legal_rep_phone", sa.String(11), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("annual_rate_ppm", sa.Integer, nullable=False),
        sa.Column("repayment_method", sa.String(32), nullable=False),
        sa.Column("manager_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_applications"),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["users.id"], name="fk_applications_manager_id_users"
        ),
    )
    op.create_index("ix_applications_manager_id", "applications", ["manager_id"])
    op.create_index("ix_applications_state", "applications", ["state"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    op.create_table(
        "invites",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_opened_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invites"),
        sa.UniqueConstraint("token_hash", name="uq_invites_token_hash"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_invites_application_id_applications",
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_invites_created_by_users"),
    )
    op.create_index("ix_invites_application_id", "invites", ["application_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("application_id", sa.String(36), nullable=True),
        sa.Column("invite_id", sa.String(36), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id_users"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_sessions_application_id_applications",
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name="fk_sessions_invite_id_invites"
        ),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("invite_id", sa.String(36), nullable=False),
        sa.Column("recording", sa.Boolean, nullable=False),
        sa.Column("data_use", sa.Boolean, nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_consents_application_id_applications",
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name="fk_consents_invite_id_invites"
        ),
    )
    op.create_index("ix_consents_application_id", "consents", ["application_id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("prev_hash", name="uq_audit_log_prev_hash"),
        sa.UniqueConstraint("entry_hash", name="uq_audit_log_entry_hash"),
    )
    op.create_index("ix_audit_log_application_id", "audit_log", ["application_id"])
    triggers = (
        POSTGRES_AUDIT_TRIGGERS
        if op.get_bind().dialect.name == "postgresql"
        else SQLITE_AUDIT_TRIGGERS
    )
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the audit log is never dropped by a migration")
