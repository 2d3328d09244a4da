"""What outside identity and business-registry sources said of an application's
documents.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_checks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("checks", sa.Text, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_source_checks_application_id_applications",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["kyc_documents.id"],
            name="fk_source_checks_document_id_kyc_documents",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_source_checks"),
    )
    op.create_index("ix_source_checks_application_id", "source_checks", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_source_checks_application_id", table_name="source_checks")
    op.drop_table("source_checks")
