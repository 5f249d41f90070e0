"""Indexes that make a business's books version (the newest change to what its forecast reads) one cheap query.

Each mirror table gets ``(business_id, synced_at)``: the newest stamp of a business's rows is the index's last entry
for it, and their count and the sum of their stamps are read from the index alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every mirror table (``mirror_models.MIRRORED``), spelled out: a migration must not change when the models do.
MIRROR_TABLES = (
    "qbo_company_info",
    "qbo_preferences",
    "qbo_accounts",
    "qbo_vendors",
    "qbo_customers",
    "qbo_terms",
    "qbo_items",
    "qbo_bills",
    "qbo_bill_payments",
    "qbo_vendor_credits",
    "qbo_invoices",
    "qbo_payments",
    "qbo_credit_memos",
    "qbo_sales_receipts",
    "qbo_purchases",
    "qbo_deposits",
    "qbo_transfers",
    "qbo_journal_entries",
)


def upgrade() -> None:
    for table in MIRROR_TABLES:
        op.create_index(f"ix_{table}_business_id_synced_at", table, ["business_id", "synced_at"], unique=False)


def downgrade() -> None:
    for table in reversed(MIRROR_TABLES):
        op.drop_index(f"ix_{table}_business_id_synced_at", table_name=table)
