"""Face matches of the applicant against the ID card portrait.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_matches",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("reference_sha256", sa.String(64), nullable=False),
        sa.Column("probe_sha256", sa.String(64), nullable=False),
        sa.Column("distance", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_face_matches"),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_face_matches_application_id_applications",
        ),
    )
    op.create_index("ix_face_matches_application_id", "face_matches", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_face_matches_application_id", "face_matches")
    op.drop_table("face_matches")
