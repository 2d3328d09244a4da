"""Liveness attempts: issued challenges and their outcome.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "liveness_attempts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("challenges", sa.Text, nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("video_sha256", sa.String(64), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_liveness_attempts"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_liveness_attempts_application_id_applications",
        ),
    )
    op.create_index("ix_liveness_attempts_application_id", "liveness_attempts", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_liveness_attempts_application_id", "liveness_attempts")
    op.drop_table("liveness_attempts")
