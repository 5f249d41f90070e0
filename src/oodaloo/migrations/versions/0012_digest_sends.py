"""The Friday digest's sends: one row per business (and per advisor) per week, claimed before the mail goes out.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("sending", "sent", "failed")


def _columns() -> list[sa.Column[object]]:
    """What both tables record of a send (``digest_models._DigestSend``)."""
    return [
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="digest_status", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "digest_sends",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        *_columns(),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_digest_sends_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_sends")),
        sa.UniqueConstraint("business_id", "week", name="uq_digest_sends_business_id_week"),
    )
    op.create_index("ix_digest_sends_week_status", "digest_sends", ["week", "status"], unique=False)
    op.create_table(
        "advisor_digest_sends",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        *_columns(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_advisor_digest_sends_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisor_digest_sends")),
        sa.UniqueConstraint("user_id", "week", name="uq_advisor_digest_sends_user_id_week"),
    )
    op.create_index("ix_advisor_digest_sends_week_status", "advisor_digest_sends", ["week", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_advisor_digest_sends_week_status", table_name="advisor_digest_sends")
    op.drop_table("advisor_digest_sends")
    op.drop_index("ix_digest_sends_week_status", table_name="digest_sends")
    op.drop_table("digest_sends")
