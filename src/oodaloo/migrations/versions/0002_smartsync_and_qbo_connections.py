"""SmartSync's action log and activity trail, and the QBO connection of each business.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_activities_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_activities_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    op.create_index("ix_activities_business_id_created_at", "activities", ["business_id", "created_at"], unique=False)
    op.create_table(
        "qbo_actions",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("requestid", sa.String(length=50), nullable=False),
        sa.Column("marker", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "in_flight",
                "succeeded",
                "failed",
                "pending_verification",
                name="qbo_action_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("qbo_entity", sa.String(length=64), nullable=True),
        sa.Column("qbo_id", sa.String(length=64), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=2000), nullable=True),
        sa.Column("drift", sa.JSON(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_actions_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_qbo_actions_requested_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_actions")),
        sa.UniqueConstraint("business_id", "idempotency_key", name="uq_qbo_actions_business_idempotency_key"),
        sa.UniqueConstraint("requestid", name=op.f("uq_qbo_actions_requestid")),
    )
    op.create_index(op.f("ix_qbo_actions_business_id"), "qbo_actions", ["business_id"], unique=False)
    op.create_index("ix_qbo_actions_status_next_check_at", "qbo_actions", ["status", "next_check_at"], unique=False)
    op.create_table(
        "qbo_connections",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "connected",
                "needs_reconnect",
                "disconnected",
                name="qbo_connection_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("connected_by", sa.Uuid(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_connections_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connected_by"], ["users.id"], name=op.f("fk_qbo_connections_connected_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_connections")),
        sa.UniqueConstraint("business_id", name=op.f("uq_qbo_connections_business_id")),
    )
    op.create_index(op.f("ix_qbo_connections_realm_id"), "qbo_connections", ["realm_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_qbo_connections_realm_id"), table_name="qbo_connections")
    op.drop_table("qbo_connections")
    op.drop_index("ix_qbo_actions_status_next_check_at", table_name="qbo_actions")
    op.drop_index(op.f("ix_qbo_actions_business_id"), table_name="qbo_actions")
    op.drop_table("qbo_actions")
    op.drop_index("ix_activities_business_id_created_at", table_name="activities")
    op.drop_table("activities")
