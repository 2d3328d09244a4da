"""Contract templates, contracts and their signing progress, issued and revoked certificates.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_templates",
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_contract_templates"),
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("contract_number", sa.String(32), nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("page_count", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pushed_by", sa.String(64), nullable=False),
        sa.Column("pushed_at", UTCDateTime(), nullable=False),
        sa.Column("pages_read", sa.Text, nullable=False),
        sa.Column("otp_hash", sa.String(64), nullable=True),
        sa.Column("otp_expires_at", UTCDateTime(), nullable=True),
        sa.Column("otp_attempts", sa.Integer, nullable=False),
        sa.Column("partial_sha256", sa.String(64), nullable=True),
        sa.Column("partial_step", sa.String(32), nullable=True),
        sa.Column("signed_sha256", sa.String(64), nullable=True),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contracts"),
        sa.UniqueConstraint("contract_number", name="uq_contracts_contract_number"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_contracts_application_id_applications",
        ),
    )
    op.create_index("ix_contracts_application_id", "contracts", ["application_id"])
    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=True),
        sa.Column("contract_id", sa.String(36), nullable=True),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("serial", name="pk_certificates"),
    )
    op.create_table(
        "revocations",
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("serial", name="pk_revocations"),
    )


def downgrade() -> None:
    op.drop_table("revocations")
    op.drop_table("certificates")
    op.drop_index("ix_contracts_application_id", "contracts")
    op.drop_table("contracts")
    op.drop_table("contract_templates")
