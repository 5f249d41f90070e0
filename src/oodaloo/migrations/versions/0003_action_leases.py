"""Leases on SmartSync's in-flight actions: the sending process renews its lease, so a dead one's actions are taken
over as soon as it runs out rather than after the five-minute staleness backstop.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("qbo_actions") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_qbo_actions_status_lease_expires_at", "qbo_actions", ["status", "lease_expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_qbo_actions_status_lease_expires_at", table_name="qbo_actions")
    with op.batch_alter_table("qbo_actions") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
