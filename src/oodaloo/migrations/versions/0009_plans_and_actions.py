"""Plans of actions, their items and receipts, scheduled payments and invoice reminders.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=18, scale=2)
PLAN_STATUSES = ("draft", "proposed", "approved", "executing", "finished", "cancelled")
ITEM_STATUSES = ("pending", "running", "confirming", "succeeded", "failed", "stopped")
SCHEDULED_STATUSES = ("scheduled", "running", "confirming", "paid", "failed", "cancelled")


def _business(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["business_id"], ["businesses.id"], name=op.f(f"fk_{table}_business_id_businesses"), ondelete="CASCADE"
    )


def _by(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="SET NULL")


def _status(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "action_impacts",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("impact", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["qbo_actions.id"], name=op.f("fk_action_impacts_action_id_qbo_actions"), ondelete="CASCADE"
        ),
        _business("action_impacts"),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_action_impacts")),
    )
    op.create_index("ix_action_impacts_business_id", "action_impacts", ["business_id"], unique=False)

    op.create_table(
        "plans",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("status", _status(PLAN_STATUSES, "plan_status"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("proposed_by", sa.Uuid(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_revision", sa.Integer(), nullable=True),
        sa.Column("executed_by", sa.Uuid(), nullable=True),
        sa.Column("execution_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _business("plans"),
        _by("plans", "created_by"),
        _by("plans", "proposed_by"),
        _by("plans", "approved_by"),
        _by("plans", "executed_by"),
        _by("plans", "cancelled_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index("ix_plans_business_id_created_at", "plans", ["business_id", "created_at"], unique=False)
    op.create_index("ix_plans_status_lease_expires_at", "plans", ["status", "lease_expires_at"], unique=False)

    op.create_table(
        "plan_items",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("status", _status(ITEM_STATUSES, "plan_item_status"), nullable=False),
        sa.Column("approved_state", sa.JSON(), nullable=True),
        sa.Column("action_id", sa.Uuid(), nullable=True),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_items_plan_id_plans"), ondelete="CASCADE"
        ),
        _business("plan_items"),
        sa.ForeignKeyConstraint(
            ["action_id"], ["qbo_actions.id"], name=op.f("fk_plan_items_action_id_qbo_actions"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_items")),
        sa.UniqueConstraint("plan_id", "position", name="uq_plan_items_plan_id_position"),
    )
    op.create_index("ix_plan_items_business_id", "plan_items", ["business_id"], unique=False)

    op.create_table(
        "ap_scheduled_payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("bill_id", sa.String(length=32), nullable=False),
        sa.Column("vendor_id", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("pay_from_account_id", sa.String(length=32), nullable=False),
        sa.Column("pay_type", sa.String(length=16), nullable=False),
        sa.Column("pay_on", sa.Date(), nullable=False),
        sa.Column("status", _status(SCHEDULED_STATUSES, "scheduled_payment_status"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_action_id", sa.Uuid(), nullable=True),
        sa.Column("bill_payment_id", sa.String(length=32), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=2000), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ap_scheduled_payments_amount_positive")),
        _business("ap_scheduled_payments"),
        _by("ap_scheduled_payments", "created_by"),
        _by("ap_scheduled_payments", "cancelled_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ap_scheduled_payments")),
    )
    op.create_index(
        "ix_ap_scheduled_payments_business_id_pay_on", "ap_scheduled_payments", ["business_id", "pay_on"], unique=False
    )
    op.create_index(
        "ix_ap_scheduled_payments_status_pay_on", "ap_scheduled_payments", ["status", "pay_on"], unique=False
    )

    op.create_table(
        "ar_reminder_cooldowns",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_invoice_id", sa.String(length=32), nullable=False),
        sa.Column("last_action_id", sa.Uuid(), nullable=False),
        sa.Column("previous_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _business("ar_reminder_cooldowns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ar_reminder_cooldowns")),
        sa.UniqueConstraint("business_id", "customer_id", name="uq_ar_reminder_cooldowns_business_id"),
    )


def downgrade() -> None:
    op.drop_table("ar_reminder_cooldowns")
    op.drop_index("ix_ap_scheduled_payments_status_pay_on", table_name="ap_scheduled_payments")
    op.drop_index("ix_ap_scheduled_payments_business_id_pay_on", table_name="ap_scheduled_payments")
    op.drop_table("ap_scheduled_payments")
    op.drop_index("ix_plan_items_business_id", table_name="plan_items")
    op.drop_table("plan_items")
    op.drop_index("ix_plans_status_lease_expires_at", table_name="plans")
    op.drop_index("ix_plans_business_id_created_at", table_name="plans")
    op.drop_table("plans")
    op.drop_index("ix_action_impacts_business_id", table_name="action_impacts")
    op.drop_table("action_impacts")
