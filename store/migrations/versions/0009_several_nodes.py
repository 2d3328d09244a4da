"""Several nodes: the waiting queue, call placements with their epochs, the
pieces of recordings being written, leases for one-node-at-a-time work, and
identity-check job results.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_queue",
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_call_queue_application_id_applications",
        ),
        sa.PrimaryKeyConstraint("application_id", name="pk_call_queue"),
    )
    op.create_table(
        "call_placements",
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_call_placements_application_id_applications",
        ),
        sa.PrimaryKeyConstraint("application_id", name="pk_call_placements"),
    )
    op.create_index("ix_call_placements_node_id", "call_placements", ["node_id"])
    op.create_table(
        "recording_chunks",
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("file", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("segment", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("application_id", "file", "seq", name="pk_recording_chunks"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_table(
        "job_results",
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("function", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("result", sa.LargeBinary, nullable=False),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_job_results"),
    )


def downgrade() -> None:
    op.drop_table("job_results")
    op.drop_table("leases")
    op.drop_table("recording_chunks")
    op.drop_index("ix_call_placements_node_id", table_name="call_placements")
    op.drop_table("call_placements")
    op.drop_table("call_queue")
