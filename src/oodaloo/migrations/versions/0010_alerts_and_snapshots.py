"""Drift alerts and the daily runway snapshots KPIs are computed from.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=18, scale=2)
RATIO_DAYS = sa.Numeric(precision=8, scale=1)
ALERT_KINDS = ("bill_paid_elsewhere", "payment_voided", "large_bill", "invoice_paid", "runway_drop")
BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")


def _business(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["business_id"], ["businesses.id"], name=op.f(f"fk_{table}_business_id_businesses"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "core_alerts",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*ALERT_KINDS, name="alert_kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("subject_key", sa.String(length=128), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("subject_name", sa.String(length=300), nullable=False),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("what_to_do", sa.String(length=2000), nullable=False),
        sa.Column("action_method", sa.String(length=8), nullable=False),
        sa.Column("action_path", sa.String(length=300), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=2000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _business("core_alerts"),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_core_alerts_acknowledged_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_alerts")),
        sa.UniqueConstraint("business_id", "kind", "subject_key", name="uq_core_alerts_business_id_kind_subject_key"),
    )
    op.create_index("ix_core_alerts_business_id_raised_at", "core_alerts", ["business_id", "raised_at"], unique=False)
    op.create_table(
        "core_drift_watermarks",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("mirror_cursor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        _business("core_drift_watermarks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_drift_watermarks")),
        sa.UniqueConstraint("business_id", name=op.f("uq_core_drift_watermarks_business_id")),
    )
    op.create_table(
        "core_drift_seen",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("party_id", sa.String(length=32), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("links", sa.JSON(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _business("core_drift_seen"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_drift_seen")),
        sa.UniqueConstraint("business_id", "entity", "qbo_id", name="uq_core_drift_seen_business_id_entity_qbo_id"),
    )
    op.create_table(
        "core_daily_snapshots",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cash", MONEY, nullable=False),
        sa.Column("burn", MONEY, nullable=False),
        sa.Column("runway_days", sa.Integer(), nullable=True),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("ar_total", MONEY, nullable=False),
        *(sa.Column(f"ar_{bucket}", MONEY, nullable=False) for bucket in BUCKETS),
        sa.Column("ap_total", MONEY, nullable=False),
        *(sa.Column(f"ap_{bucket}", MONEY, nullable=False) for bucket in BUCKETS),
        sa.Column("dso_days", RATIO_DAYS, nullable=True),
        sa.Column("dpo_days", RATIO_DAYS, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _business("core_daily_snapshots"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_daily_snapshots")),
        sa.UniqueConstraint("business_id", "day", name="uq_core_daily_snapshots_business_id_day"),
    )


def downgrade() -> None:
    op.drop_table("core_daily_snapshots")
    op.drop_table("core_drift_seen")
    op.drop_table("core_drift_watermarks")
    op.drop_index("ix_core_alerts_business_id_raised_at", table_name="core_alerts")
    op.drop_table("core_alerts")
