"""The audit log's Merkle tree, stored by complete subtree.

Revision ID: 0008
Revises: 0007

Filled from the log on the first checkpoint or export after the upgrade.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_tree",
        sa.Column("level", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name="pk_audit_tree"),
    )


def downgrade() -> None:
    op.drop_table("audit_tree")
