"""Consents as separate records per purpose (recording, personal data, biometrics),
so a biometric consent can be declined or withdrawn on its own. Each earlier
consent row becomes its two records, at the time it was given.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("invite_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_consent_records_application_id_applications",
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name="fk_consent_records_invite_id_invites"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consent_records"),
    )
    op.create_index("ix_consent_records_application_id", "consent_records", ["application_id"])
    for purpose, column in (("recording", "recording"), ("personal_data", "data_use")):
        op.execute(
            "INSERT INTO consent_records "
            "(application_id, invite_id, purpose, granted, text_version, language, at) "
            f"SELECT application_id, invite_id, '{purpose}', {column}, text_version, language, "
            "accepted_at FROM consents ORDER BY id"
        )
    op.drop_index("ix_consents_application_id", table_name="consents")
    op.drop_table("consents")


def downgrade() -> None:
    # Back to one row per application; biometric choices are lost with the table.
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("invite_id", sa.String(36), nullable=False),
        sa.Column("recording", sa.Boolean, nullable=False),
        sa.Column("data_use", sa.Boolean, nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name="fk_consents_application_id_applications"
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name="fk_consents_invite_id_invites"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_application_id", "consents", ["application_id"])
    op.execute(
        "INSERT INTO consents "
        "(application_id, invite_id, recording, data_use, text_version, language, accepted_at) "
        "SELECT application_id, invite_id, granted, granted, text_version, language, at "
        "FROM consent_records WHERE purpose = 'personal_data' ORDER BY id"
    )
    op.drop_index("ix_consent_records_application_id", table_name="consent_records")
    op.drop_table("consent_records")
