"""Request and response bodies of listing and paying bills, the Must Pay / Can Delay board, bill plans and vendor
settings."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
    model_validator,
)

from oodaloo.domains.ap.classify import Rule
from oodaloo.domains.ap.decisions import NOTE_MAX_LENGTH, BillClass
from oodaloo.domains.core.impact import ActionImpactOut

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
    receipt: dict[str, Any] | None = Field(
        default=None,
        description="Once succeeded: QuickBooks' ids, SyncToken, and whether its answer matches the request.",
    )
    impact: ActionImpactOut | None = Field(
        default=None,
        description="The runway before and after, from the forecast when it was asked (null before a sync).",
    )


class BillDecisionOut(BaseModel):
    """Must Pay or Can Delay, why (``reason``, a sentence; ``rule``, which rule decided), the day we plan to pay it
    (never before today), and for a bill that can wait the latest day it safely can (its due date plus the vendor's
    grace days; null for a bill that must be paid)."""

    model_config = ConfigDict(populate_by_name=True)

    klass: BillClass = Field(alias="class")
    reason: str
    rule: Rule
    planned_pay_date: date
    latest_safe_pay_date: date | None


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
    decision: BillDecisionOut | None = Field(
        default=None, description="Its class and dates, once the business's mirror has been synced (null before)."
    )


class PayFromAccountOut(BaseModel):
    """An account bills can be paid from: a Bank account (paid by check) or a Credit Card (money as decimal strings;
    a card's balance is what is owed on it)."""

    account_id: str
    name: str
    account_type: Literal["Bank", "Credit Card"]
    pay_type: Literal["Check", "CreditCard"]
    current_balance: str
    currency: str | None


# -- the Must Pay / Can Delay board, plans and vendor settings ------------------------------------------------------

# Grace beyond a quarter is not grace: the vendor has given other terms, which belong in QuickBooks.
MAX_GRACE_DAYS = 90
DueWindow = Literal["overdue", "this_week", "next_week", "later"]
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _written_date(value: Any) -> Any:
    """A date as JSON writes one, ``"2026-03-27"``: not a number (pydantic would read a Unix time) nor a datetime."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError("write the date as YYYY-MM-DD")


WrittenDate = Annotated[date, BeforeValidator(_written_date)]
StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX_LENGTH)]


def _blank_is_none(value: str | None) -> str | None:
    return value or None


class BillPlanOut(BaseModel):
    """What a person decided for the bill: a class over the rules, a note, a planned pay date; who, and when."""

    class_override: BillClass | None
    note: str | None
    planned_pay_date: date | None
    set_by: str | None = Field(description="The member who set it last (null once they are gone).")
    set_at: datetime


class BoardBillOut(BaseModel):
    bill_id: str
    doc_number: str | None
    vendor_id: str
    vendor_name: str
    txn_date: date | None
    due_date: date | None
    total: str
    balance: str
    expense_accounts: list[str] = Field(description="The accounts its lines are booked to.")
    term: str | None
    decision: BillDecisionOut
    plan: BillPlanOut | None


class VendorBillsOut(BaseModel):
    vendor_id: str
    vendor_name: str
    total: str
    bills: list[BoardBillOut]


class DueWindowOut(BaseModel):
    """Bills by due date: ``overdue`` (before today), ``this_week`` (today to Sunday), ``next_week`` (Monday to
    Sunday), ``later``; weeks in the business's time zone."""

    window: DueWindow
    starts: date | None
    ends: date | None
    total: str
    vendors: list[VendorBillsOut]


class BoardColumnOut(BaseModel):
    total: str
    bills: int
    windows: list[DueWindowOut]


class BillBoardOut(BaseModel):
    """The open bills in two columns, Must Pay and Can Delay, each by due window then vendor (money as decimal
    strings)."""

    today: date
    timezone: str
    must_pay: BoardColumnOut
    can_delay: BoardColumnOut


class BillPlanPatch(BaseModel):
    """Set or clear (``null``) any of a bill's class override, note and planned pay date; what is left out stays."""

    model_config = ConfigDict(extra="forbid")

    class_override: BillClass | None = None
    note: Note | None = None
    planned_pay_date: WrittenDate | None = Field(
        default=None, description="Within a year from today (the business's), not before it."
    )

    _blank_note = field_validator("note")(_blank_is_none)

    @model_validator(mode="after")
    def _something(self) -> BillPlanPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of class_override, note, planned_pay_date")
        return self


class VendorSettingsPatch(BaseModel):
    """Change any of a vendor's settings; what is left out stays. ``note`` may be ``null`` to clear it."""

    model_config = ConfigDict(extra="forbid")

    critical: StrictBool = False
    grace_days: StrictInt = Field(default=0, ge=0, le=MAX_GRACE_DAYS)
    late_fees: StrictBool = False
    note: Note | None = None

    _blank_note = field_validator("note")(_blank_is_none)

    @model_validator(mode="after")
    def _something(self) -> VendorSettingsPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of critical, grace_days, late_fees, note")
        return self


class VendorOut(BaseModel):
    """A vendor with the business's settings for it and what it is owed now (money as decimal strings)."""

    vendor_id: str
    name: str
    active: bool
    critical: bool
    grace_days: int
    late_fees: bool
    note: str | None
    open_balance: str
    open_bills: int
    overdue_balance: str
    settings_updated_at: datetime | None
