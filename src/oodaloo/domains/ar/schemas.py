"""Response bodies of the receivables API: open invoices with their expected collection, customers with their payment
behaviour, and the collections list with the aging of receivables (money as decimal strings)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from oodaloo.domains.ar.collections import AgingBucket

InvoiceStatus = Literal["open", "overdue"]
# QBO ids are short digit strings; anything longer is certainly not one.
QBO_ID_MAX_LENGTH = 64


class ExpectedCollectionOut(BaseModel):
    """When the invoice is expected to be paid, from its customer's payment behaviour (never before today)."""

    expected: date
    early: date
    late: date
    reason: str


class OpenInvoiceOut(BaseModel):
    invoice_id: str
    doc_number: str | None
    customer_id: str
    customer_name: str
    txn_date: date
    due_date: date
    total: str
    balance: str
    days_overdue: int = Field(description="Days past the due date as of today; negative: days until it is due.")
    aging_bucket: AgingBucket
    expected_collection: ExpectedCollectionOut


class BehaviourOut(BaseModel):
    """How the customer pays, from its invoices paid so far (days late from the due date; negative: early)."""

    paid_invoices: int
    median_days_late: int | None
    p25_days_late: int | None
    p75_days_late: int | None
    share_paid_late: float | None = Field(description="Share of its paid invoices paid after their due date.")
    recent_invoices: int = Field(description="How many of its last paid invoices the recent figures cover.")
    recent_late: int
    recent_median_days_late: int | None
    trend: Literal["later", "sooner", "steady"] | None = Field(
        description="Its recent invoices against its earlier ones; null until it has both."
    )
    history_weight: float = Field(
        description="How much its own history counts in its forecast (0-1); the business's customers overall fill "
        "the rest."
    )
    summary: str


class CustomerOut(BaseModel):
    customer_id: str
    name: str
    active: bool
    open_balance: str
    overdue_balance: str
    open_invoices: int
    overdue_invoices: int
    behaviour: BehaviourOut


class CustomerDetailOut(CustomerOut):
    invoices: list[OpenInvoiceOut] = Field(description="Its open invoices, oldest due first.")


class AgingBucketOut(BaseModel):
    bucket: AgingBucket
    count: int
    balance: str


class CollectionItemOut(BaseModel):
    """An overdue invoice worth chasing: ``score`` = balance x ``lateness_months`` x ``unreliability``."""

    rank: int
    score: str
    lateness_months: float
    unreliability: float = Field(
        description="The chance (0-1) that it is not paid in the next 14 days at its customer's usual pace."
    )
    reason: str
    invoice: OpenInvoiceOut


class CollectionsOut(BaseModel):
    as_of: date
    total_open: str
    total_overdue: str
    aging: list[AgingBucketOut]
    invoices: list[CollectionItemOut] = Field(description="Overdue invoices, most worth chasing first.")
