"""What the forecast takes from users: reserves and the reserve floor, and recurring items (added by hand, or changes
to a detected series).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=18, scale=2)
CATEGORIES = ("payroll", "rent", "taxes", "subscriptions", "insurance", "utilities", "card_payment", "other")
CADENCES = ("weekly", "biweekly", "semimonthly", "monthly", "quarterly", "tax_quarters")


def _by(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="SET NULL")


def _business(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["business_id"], ["businesses.id"], name=op.f(f"fk_{table}_business_id_businesses"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "core_reserves",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "payroll", "taxes", "custom", name="reserve_kind", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_core_reserves_amount_positive")),
        _business("core_reserves"),
        _by("core_reserves", "created_by"),
        _by("core_reserves", "updated_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_reserves")),
    )
    op.create_index("ix_core_reserves_business_id", "core_reserves", ["business_id"], unique=False)
    op.create_table(
        "core_reserve_floors",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_core_reserve_floors_amount_not_negative")),
        _business("core_reserve_floors"),
        _by("core_reserve_floors", "updated_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_reserve_floors")),
        sa.UniqueConstraint("business_id", name=op.f("uq_core_reserve_floors_business_id")),
    )
    op.create_table(
        "ap_recurring_items",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("detected_key", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column(
            "category",
            sa.Enum(*CATEGORIES, name="recurring_category", native_enum=False, create_constraint=True, length=16),
            nullable=True,
        ),
        sa.Column(
            "cadence",
            sa.Enum(*CADENCES, name="recurring_cadence", native_enum=False, create_constraint=True, length=16),
            nullable=True,
        ),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("next_date", sa.Date(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name=op.f("ck_ap_recurring_items_amount_positive")),
        sa.CheckConstraint(
            "detected_key IS NOT NULL OR (name IS NOT NULL AND category IS NOT NULL AND cadence IS NOT NULL "
            "AND amount IS NOT NULL AND next_date IS NOT NULL)",
            name=op.f("ck_ap_recurring_items_own_item_complete"),
        ),
        _business("ap_recurring_items"),
        _by("ap_recurring_items", "created_by"),
        _by("ap_recurring_items", "updated_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ap_recurring_items")),
        sa.UniqueConstraint("business_id", "detected_key", name="uq_ap_recurring_items_business_id_detected_key"),
    )


def downgrade() -> None:
    op.drop_table("ap_recurring_items")
    op.drop_table("core_reserve_floors")
    op.drop_index("ix_core_reserves_business_id", table_name="core_reserves")
    op.drop_table("core_reserves")
