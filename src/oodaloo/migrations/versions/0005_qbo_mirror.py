"""The QBO mirror: a table per mirrored entity type (raw object beside typed, indexed columns), sync runs, each
business's sync state (its CDC cursor) and full-sync progress per entity type (so a sync resumes where it stopped).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qbo_accounts",
        sa.Column("account_type", sa.String(length=64), nullable=True),
        sa.Column("account_sub_type", sa.String(length=64), nullable=True),
        sa.Column("classification", sa.String(length=32), nullable=True),
        sa.Column("current_balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_accounts_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_accounts")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_accounts_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_accounts_business_id_account_type", "qbo_accounts", ["business_id", "account_type"], unique=False
    )
    op.create_index("ix_qbo_accounts_business_id_status", "qbo_accounts", ["business_id", "status"], unique=False)

    op.create_table(
        "qbo_bill_payments",
        sa.Column("vendor_id", sa.String(length=32), nullable=True),
        sa.Column("pay_type", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_bill_payments_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_bill_payments")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_bill_payments_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_bill_payments_business_id_status", "qbo_bill_payments", ["business_id", "status"], unique=False
    )
    op.create_index(
        "ix_qbo_bill_payments_business_id_txn_date", "qbo_bill_payments", ["business_id", "txn_date"], unique=False
    )
    op.create_index(
        "ix_qbo_bill_payments_business_id_vendor_id", "qbo_bill_payments", ["business_id", "vendor_id"], unique=False
    )

    op.create_table(
        "qbo_bills",
        sa.Column("vendor_id", sa.String(length=32), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_bills_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_bills")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_bills_business_id_qbo_id"),
    )
    op.create_index("ix_qbo_bills_business_id_due_date", "qbo_bills", ["business_id", "due_date"], unique=False)
    op.create_index("ix_qbo_bills_business_id_status", "qbo_bills", ["business_id", "status"], unique=False)
    op.create_index("ix_qbo_bills_business_id_txn_date", "qbo_bills", ["business_id", "txn_date"], unique=False)
    op.create_index("ix_qbo_bills_business_id_vendor_id", "qbo_bills", ["business_id", "vendor_id"], unique=False)

    op.create_table(
        "qbo_company_info",
        sa.Column("company_name", sa.String(length=500), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_company_info_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_company_info")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_company_info_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_company_info_business_id_status", "qbo_company_info", ["business_id", "status"], unique=False
    )

    op.create_table(
        "qbo_credit_memos",
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_credit_memos_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_credit_memos")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_credit_memos_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_credit_memos_business_id_customer_id", "qbo_credit_memos", ["business_id", "customer_id"], unique=False
    )
    op.create_index(
        "ix_qbo_credit_memos_business_id_status", "qbo_credit_memos", ["business_id", "status"], unique=False
    )

    op.create_table(
        "qbo_customers",
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_customers_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_customers")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_customers_business_id_qbo_id"),
    )
    op.create_index("ix_qbo_customers_business_id_status", "qbo_customers", ["business_id", "status"], unique=False)

    op.create_table(
        "qbo_deposits",
        sa.Column("deposit_account_id", sa.String(length=32), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_deposits_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_deposits")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_deposits_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_deposits_business_id_deposit_account_id",
        "qbo_deposits",
        ["business_id", "deposit_account_id"],
        unique=False,
    )
    op.create_index("ix_qbo_deposits_business_id_status", "qbo_deposits", ["business_id", "status"], unique=False)
    op.create_index("ix_qbo_deposits_business_id_txn_date", "qbo_deposits", ["business_id", "txn_date"], unique=False)

    op.create_table(
        "qbo_full_sync_progress",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("next_position", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_full_sync_progress_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_full_sync_progress")),
        sa.UniqueConstraint("business_id", "entity", name="uq_qbo_full_sync_progress_business_id_entity"),
    )
    op.create_table(
        "qbo_invoices",
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_invoices_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_invoices")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_invoices_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_invoices_business_id_customer_id", "qbo_invoices", ["business_id", "customer_id"], unique=False
    )
    op.create_index("ix_qbo_invoices_business_id_due_date", "qbo_invoices", ["business_id", "due_date"], unique=False)
    op.create_index("ix_qbo_invoices_business_id_status", "qbo_invoices", ["business_id", "status"], unique=False)
    op.create_index("ix_qbo_invoices_business_id_txn_date", "qbo_invoices", ["business_id", "txn_date"], unique=False)

    op.create_table(
        "qbo_items",
        sa.Column("item_type", sa.String(length=32), nullable=True),
        sa.Column("income_account_id", sa.String(length=32), nullable=True),
        sa.Column("expense_account_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_items_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_items")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_items_business_id_qbo_id"),
    )
    op.create_index("ix_qbo_items_business_id_status", "qbo_items", ["business_id", "status"], unique=False)

    op.create_table(
        "qbo_journal_entries",
        sa.Column("adjustment", sa.Boolean(), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_journal_entries_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_journal_entries")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_journal_entries_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_journal_entries_business_id_status", "qbo_journal_entries", ["business_id", "status"], unique=False
    )
    op.create_index(
        "ix_qbo_journal_entries_business_id_txn_date", "qbo_journal_entries", ["business_id", "txn_date"], unique=False
    )

    op.create_table(
        "qbo_payments",
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("deposit_account_id", sa.String(length=32), nullable=True),
        sa.Column("unapplied_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_payments_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_payments")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_payments_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_payments_business_id_customer_id", "qbo_payments", ["business_id", "customer_id"], unique=False
    )
    op.create_index("ix_qbo_payments_business_id_status", "qbo_payments", ["business_id", "status"], unique=False)
    op.create_index("ix_qbo_payments_business_id_txn_date", "qbo_payments", ["business_id", "txn_date"], unique=False)

    op.create_table(
        "qbo_preferences",
        sa.Column("home_currency", sa.String(length=8), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_preferences_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_preferences")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_preferences_business_id_qbo_id"),
    )
    op.create_index("ix_qbo_preferences_business_id_status", "qbo_preferences", ["business_id", "status"], unique=False)

    op.create_table(
        "qbo_purchases",
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("payee_id", sa.String(length=32), nullable=True),
        sa.Column("payment_type", sa.String(length=32), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_purchases_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_purchases")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_purchases_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_purchases_business_id_account_id", "qbo_purchases", ["business_id", "account_id"], unique=False
    )
    op.create_index("ix_qbo_purchases_business_id_status", "qbo_purchases", ["business_id", "status"], unique=False)
    op.create_index("ix_qbo_purchases_business_id_txn_date", "qbo_purchases", ["business_id", "txn_date"], unique=False)

    op.create_table(
        "qbo_sales_receipts",
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("deposit_account_id", sa.String(length=32), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_sales_receipts_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_sales_receipts")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_sales_receipts_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_sales_receipts_business_id_customer_id",
        "qbo_sales_receipts",
        ["business_id", "customer_id"],
        unique=False,
    )
    op.create_index(
        "ix_qbo_sales_receipts_business_id_status", "qbo_sales_receipts", ["business_id", "status"], unique=False
    )
    op.create_index(
        "ix_qbo_sales_receipts_business_id_txn_date", "qbo_sales_receipts", ["business_id", "txn_date"], unique=False
    )

    op.create_table(
        "qbo_sync_states",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("cdc_cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("singletons_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_sync_states_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_sync_states")),
        sa.UniqueConstraint("business_id", name=op.f("uq_qbo_sync_states_business_id")),
    )
    op.create_table(
        "qbo_terms",
        sa.Column("due_days", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_terms_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_terms")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_terms_business_id_qbo_id"),
    )
    op.create_index("ix_qbo_terms_business_id_status", "qbo_terms", ["business_id", "status"], unique=False)

    op.create_table(
        "qbo_transfers",
        sa.Column("from_account_id", sa.String(length=32), nullable=True),
        sa.Column("to_account_id", sa.String(length=32), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_transfers_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_transfers")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_transfers_business_id_qbo_id"),
    )
    op.create_index("ix_qbo_transfers_business_id_status", "qbo_transfers", ["business_id", "status"], unique=False)
    op.create_index("ix_qbo_transfers_business_id_txn_date", "qbo_transfers", ["business_id", "txn_date"], unique=False)

    op.create_table(
        "qbo_vendor_credits",
        sa.Column("vendor_id", sa.String(length=32), nullable=True),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_qbo_vendor_credits_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_vendor_credits")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_vendor_credits_business_id_qbo_id"),
    )
    op.create_index(
        "ix_qbo_vendor_credits_business_id_status", "qbo_vendor_credits", ["business_id", "status"], unique=False
    )
    op.create_index(
        "ix_qbo_vendor_credits_business_id_vendor_id", "qbo_vendor_credits", ["business_id", "vendor_id"], unique=False
    )

    op.create_table(
        "qbo_vendors",
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "voided",
                "deleted",
                name="mirror_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_qbo_vendors_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbo_vendors")),
        sa.UniqueConstraint("business_id", "qbo_id", name="uq_qbo_vendors_business_id_qbo_id"),
    )
    op.create_index("ix_qbo_vendors_business_id_status", "qbo_vendors", ["business_id", "status"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("full", "cdc", "reconcile", name="sync_kind", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                name="sync_outcome",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_sync_runs_business_id_businesses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index("ix_sync_runs_business_id_started_at", "sync_runs", ["business_id", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sync_runs_business_id_started_at", table_name="sync_runs")

    op.drop_table("sync_runs")
    op.drop_index("ix_qbo_vendors_business_id_status", table_name="qbo_vendors")

    op.drop_table("qbo_vendors")
    op.drop_index("ix_qbo_vendor_credits_business_id_vendor_id", table_name="qbo_vendor_credits")
    op.drop_index("ix_qbo_vendor_credits_business_id_status", table_name="qbo_vendor_credits")

    op.drop_table("qbo_vendor_credits")
    op.drop_index("ix_qbo_transfers_business_id_txn_date", table_name="qbo_transfers")
    op.drop_index("ix_qbo_transfers_business_id_status", table_name="qbo_transfers")

    op.drop_table("qbo_transfers")
    op.drop_index("ix_qbo_terms_business_id_status", table_name="qbo_terms")

    op.drop_table("qbo_terms")
    op.drop_table("qbo_sync_states")
    op.drop_index("ix_qbo_sales_receipts_business_id_txn_date", table_name="qbo_sales_receipts")
    op.drop_index("ix_qbo_sales_receipts_business_id_status", table_name="qbo_sales_receipts")
    op.drop_index("ix_qbo_sales_receipts_business_id_customer_id", table_name="qbo_sales_receipts")

    op.drop_table("qbo_sales_receipts")
    op.drop_index("ix_qbo_purchases_business_id_txn_date", table_name="qbo_purchases")
    op.drop_index("ix_qbo_purchases_business_id_status", table_name="qbo_purchases")
    op.drop_index("ix_qbo_purchases_business_id_account_id", table_name="qbo_purchases")

    op.drop_table("qbo_purchases")
    op.drop_index("ix_qbo_preferences_business_id_status", table_name="qbo_preferences")

    op.drop_table("qbo_preferences")
    op.drop_index("ix_qbo_payments_business_id_txn_date", table_name="qbo_payments")
    op.drop_index("ix_qbo_payments_business_id_status", table_name="qbo_payments")
    op.drop_index("ix_qbo_payments_business_id_customer_id", table_name="qbo_payments")

    op.drop_table("qbo_payments")
    op.drop_index("ix_qbo_journal_entries_business_id_txn_date", table_name="qbo_journal_entries")
    op.drop_index("ix_qbo_journal_entries_business_id_status", table_name="qbo_journal_entries")

    op.drop_table("qbo_journal_entries")
    op.drop_index("ix_qbo_items_business_id_status", table_name="qbo_items")

    op.drop_table("qbo_items")
    op.drop_index("ix_qbo_invoices_business_id_txn_date", table_name="qbo_invoices")
    op.drop_index("ix_qbo_invoices_business_id_status", table_name="qbo_invoices")
    op.drop_index("ix_qbo_invoices_business_id_due_date", table_name="qbo_invoices")
    op.drop_index("ix_qbo_invoices_business_id_customer_id", table_name="qbo_invoices")

    op.drop_table("qbo_invoices")
    op.drop_table("qbo_full_sync_progress")
    op.drop_index("ix_qbo_deposits_business_id_txn_date", table_name="qbo_deposits")
    op.drop_index("ix_qbo_deposits_business_id_status", table_name="qbo_deposits")
    op.drop_index("ix_qbo_deposits_business_id_deposit_account_id", table_name="qbo_deposits")

    op.drop_table("qbo_deposits")
    op.drop_index("ix_qbo_customers_business_id_status", table_name="qbo_customers")

    op.drop_table("qbo_customers")
    op.drop_index("ix_qbo_credit_memos_business_id_status", table_name="qbo_credit_memos")
    op.drop_index("ix_qbo_credit_memos_business_id_customer_id", table_name="qbo_credit_memos")

    op.drop_table("qbo_credit_memos")
    op.drop_index("ix_qbo_company_info_business_id_status", table_name="qbo_company_info")

    op.drop_table("qbo_company_info")
    op.drop_index("ix_qbo_bills_business_id_vendor_id", table_name="qbo_bills")
    op.drop_index("ix_qbo_bills_business_id_txn_date", table_name="qbo_bills")
    op.drop_index("ix_qbo_bills_business_id_status", table_name="qbo_bills")
    op.drop_index("ix_qbo_bills_business_id_due_date", table_name="qbo_bills")

    op.drop_table("qbo_bills")
    op.drop_index("ix_qbo_bill_payments_business_id_vendor_id", table_name="qbo_bill_payments")
    op.drop_index("ix_qbo_bill_payments_business_id_txn_date", table_name="qbo_bill_payments")
    op.drop_index("ix_qbo_bill_payments_business_id_status", table_name="qbo_bill_payments")

    op.drop_table("qbo_bill_payments")
    op.drop_index("ix_qbo_accounts_business_id_status", table_name="qbo_accounts")
    op.drop_index("ix_qbo_accounts_business_id_account_type", table_name="qbo_accounts")

    op.drop_table("qbo_accounts")
