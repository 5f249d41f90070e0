"""The AP decisions: vendor settings (criticality, grace days), bill classification overrides and planned pay dates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ap_vendor_settings",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.String(length=32), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("late_fees", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("grace_days >= 0", name=op.f("ck_ap_vendor_settings_grace_days_not_negative")),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_ap_vendor_settings_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_ap_vendor_settings_updated_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ap_vendor_settings")),
        sa.UniqueConstraint("business_id", "vendor_id", name="uq_ap_vendor_settings_business_id_vendor_id"),
    )
    op.create_table(
        "ap_bill_plans",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("bill_id", sa.String(length=32), nullable=False),
        sa.Column(
            "class_override",
            sa.Enum("must_pay", "can_delay", name="bill_class", native_enum=False, create_constraint=True, length=16),
            nullable=True,
        ),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("planned_pay_date", sa.Date(), nullable=True),
        sa.Column("set_by", sa.Uuid(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_ap_bill_plans_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["set_by"], ["users.id"], name=op.f("fk_ap_bill_plans_set_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ap_bill_plans")),
        sa.UniqueConstraint("business_id", "bill_id", name="uq_ap_bill_plans_business_id_bill_id"),
    )


def downgrade() -> None:
    op.drop_table("ap_bill_plans")
    op.drop_table("ap_vendor_settings")
