"""Data subjects' requests as tasks with a due date.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_subject_requests_application_id_applications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subject_requests"),
    )
    op.create_index("ix_subject_requests_application_id", "subject_requests", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_subject_requests_application_id", table_name="subject_requests")
    op.drop_table("subject_requests")
