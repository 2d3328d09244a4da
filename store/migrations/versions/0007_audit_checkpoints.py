"""Audit checkpoints: signed Merkle roots over the log.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("range_start", sa.BigInteger, nullable=False),
        sa.Column("tree_root", sa.String(64), nullable=False),
        sa.Column("range_root", sa.String(64), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
