"""The webhook inbox: QBO's change events, each stored once (unique dedupe key) until a CDC sync covers it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qbo_webhook_events",
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("payload_format", sa.String(length=16), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("entity_name", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("last_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw_event", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_webhook_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_qbo_webhook_events_dedupe_key")),
    )
    op.create_index(
        "ix_qbo_webhook_events_realm_id_processed_at",
        "qbo_webhook_events",
        ["realm_id", "processed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_qbo_webhook_events_realm_id_processed_at", table_name="qbo_webhook_events")
    op.drop_table("qbo_webhook_events")
