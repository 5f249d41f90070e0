"""Request and response bodies of listing and paying bills, and the view of an action the API returns."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# QBO ids are short digit strings; anything longer is certainly not one.
QBO_ID_MAX_LENGTH = 64
CENTS = Decimal("0.01")

# ASCII digits only: ``\d`` would also match other scripts' digits, which Decimal reads too.
_PLAIN_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
AMOUNT_SHAPE = 'amount must be a plain decimal with at most two decimals, such as "125.00"'

QBOId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=QBO_ID_MAX_LENGTH)]


class PayBillIn(BaseModel):
    """``amount`` as a plain decimal (``"125.00"``, or the JSON number ``125.5``) with at most two decimals, paid from
    a Bank or Credit Card account; ``payment_date`` defaults to today in the business's time zone."""

    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0, max_digits=15, decimal_places=2, allow_inf_nan=False)
    pay_from_account_id: QBOId
    payment_date: date | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _plain_decimal(cls, value: Any) -> Any:
        return plain_amount(value)


def plain_amount(value: Any) -> Any:
    """The amount as a Decimal when it is written the plain way: ASCII digits, an optional point and two decimals.

    Python's Decimal also reads ``"1_000"``, ``"1e3"``, ``" 5 "`` and other scripts' digits (full-width ones, say);
    a person typing those meant something we cannot be sure of, and money is not the place to guess. A JSON number
    is accepted when its shortest form is plain (``120.5``; not ``1e-07``): clients that send numbers send them so.
    """
    if isinstance(value, bool):
        raise ValueError(AMOUNT_SHAPE)
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        # A JSON number arrives as float: its shortest repr is what the client wrote ("125.5" -> 125.5).
        value = repr(value)
    if not isinstance(value, str) or not _PLAIN_AMOUNT.fullmatch(value):
        raise ValueError(AMOUNT_SHAPE)
    return Decimal(value)


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
    error_field: str | None = Field(description="The request field a failure names, when it names one.")
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


class PayFromAccountOut(BaseModel):
    """An account bills can be paid from: a Bank account (paid by check) or a Credit Card (money as decimal strings;
    a card's balance is what is owed on it)."""

    account_id: str
    name: str
    account_type: Literal["Bank", "Credit Card"]
    pay_type: Literal["Check", "CreditCard"]
    current_balance: str
    currency: str | None
