"""Request and response bodies of listing and paying bills, and the view of an action the API returns."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# QBO ids are short digit strings; anything longer is certainly not one.
QBO_ID_MAX_LENGTH = 64
CENTS = Decimal("0.01")

QBOId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=QBO_ID_MAX_LENGTH)]


class PayBillIn(BaseModel):
    """``amount`` as a decimal string (or a number) with at most two decimals, paid from a Bank or Credit Card
    account; ``payment_date`` defaults to today in the business's time zone."""

    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0, max_digits=15, decimal_places=2, allow_inf_nan=False)
    pay_from_account_id: QBOId
    payment_date: date | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError('amount must be a decimal string such as "125.00"')
        if isinstance(value, float):
            # A JSON number arrives as float: its shortest repr is what the client wrote ("125.5" -> 125.5).
            return Decimal(repr(value))
        return value


PaymentStatus = Literal["succeeded", "pending_verification"]


class BillPaymentOut(BaseModel):
    action_id: uuid.UUID
    status: PaymentStatus
    bill_id: str
    bill_payment_id: str | None
    amount: str
    pay_from_account_id: str
    payment_date: date
    message: str
    repeated: bool


class ActionOut(BaseModel):
    action_id: uuid.UUID
    kind: str
    status: str
    attempts: int
    qbo_entity: str | None
    qbo_id: str | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None
    drift: dict[str, Any] | None


class OpenBillOut(BaseModel):
    """A bill with a balance left to pay, as the must-pay list shows it (money as decimal strings)."""

    bill_id: str
    vendor_id: str
    vendor_name: str | None
    doc_number: str | None
    txn_date: date | None
    due_date: date | None
    total: str
    balance: str
