"""Test drives: trials (a guest owning one business until it expires) and the sandbox companies ended trials left.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIAL_KINDS = ("scenario", "read_only")


def upgrade() -> None:
    op.create_table(
        "trials",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*TRIAL_KINDS, name="trial_kind", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("scenario", sa.String(length=16), nullable=True),
        sa.Column("realm_id", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_trials_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_trials_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint("business_id", name=op.f("uq_trials_business_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_trials_user_id")),
    )
    op.create_index(op.f("ix_trials_expires_at"), "trials", ["expires_at"], unique=False)
    op.create_index("ix_trials_scenario_claimed_at", "trials", ["scenario", "claimed_at"], unique=False)
    op.create_table(
        "trial_spare_realms",
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("scenario", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_spare_realms")),
        sa.UniqueConstraint("realm_id", name=op.f("uq_trial_spare_realms_realm_id")),
    )
    op.create_index(op.f("ix_trial_spare_realms_scenario"), "trial_spare_realms", ["scenario"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_trial_spare_realms_scenario"), table_name="trial_spare_realms")
    op.drop_table("trial_spare_realms")
    op.drop_index("ix_trials_scenario_claimed_at", table_name="trials")
    op.drop_index(op.f("ix_trials_expires_at"), table_name="trials")
    op.drop_table("trials")
