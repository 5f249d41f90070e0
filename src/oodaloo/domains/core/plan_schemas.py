"""Request and response bodies of plans. A plan's item is the body its single-action route takes, plus ``kind`` and the
bill or invoice it acts on."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from oodaloo.domains.ap.schemas import QBOId, WrittenDate, plain_amount
from oodaloo.domains.core.impact import ActionImpactOut
from oodaloo.domains.core.plan_models import NOTE_MAX_LENGTH, TITLE_MAX_LENGTH, PlanItemStatus, PlanStatus

MAX_ITEMS = 100
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX_LENGTH)]


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Amount(_Item):
    amount: Decimal = Field(gt=0, max_digits=15, decimal_places=2, allow_inf_nan=False)

    @field_validator("amount", mode="before")
    @classmethod
    def _plain_decimal(cls, value: Any) -> Any:
        return plain_amount(value)


class PayBillItem(_Amount):
    kind: Literal["bill.pay"]
    bill_id: QBOId
    pay_from_account_id: QBOId
    payment_date: WrittenDate | None = None


class DelayBillItem(_Item):
    kind: Literal["bill.delay"]
    bill_id: QBOId
    planned_pay_date: WrittenDate


class SchedulePaymentItem(_Amount):
    kind: Literal["bill.schedule_payment"]
    bill_id: QBOId
    pay_from_account_id: QBOId
    pay_on: WrittenDate


class RecordPaymentItem(_Amount):
    kind: Literal["invoice.record_payment"]
    invoice_id: QBOId
    deposit_to_account_id: QBOId | None = None
    payment_date: WrittenDate | None = None


class SendReminderItem(_Item):
    kind: Literal["invoice.send_reminder"]
    invoice_id: QBOId


PlanItemIn = Annotated[
    PayBillItem | DelayBillItem | SchedulePaymentItem | RecordPaymentItem | SendReminderItem,
    Field(discriminator="kind"),
]


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    note: Note | None = None
    items: list[PlanItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)


class PlanItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PlanItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class ApproveIn(BaseModel):
    """``revision``: the plan as the approver saw it; when it changed since, the approval is refused (409)."""

    model_config = ConfigDict(extra="forbid")

    revision: int | None = Field(default=None, ge=1)


class PlanItemOut(BaseModel):
    item_id: uuid.UUID
    position: int
    kind: str
    request: dict[str, Any]
    status: PlanItemStatus
    action_id: uuid.UUID | None = Field(description="Its action in GET /actions/{action_id}, once started.")
    reason_code: str | None = Field(description="Why it failed or was stopped (e.g. `inputs_changed`).")
    reason: str | None
    receipt: dict[str, Any] | None = Field(
        description="Once succeeded: QuickBooks' id and SyncToken, and whether its answer matches what was asked."
    )
    started_at: datetime | None
    finished_at: datetime | None


class PlanCountsOut(BaseModel):
    pending: int = 0
    running: int = 0
    confirming: int = 0
    succeeded: int = 0
    failed: int = 0
    stopped: int = 0


class PlanOut(BaseModel):
    plan_id: uuid.UUID
    title: str
    note: str | None
    status: PlanStatus
    revision: int = Field(description="Bumped by every change of its items.")
    created_by: uuid.UUID | None
    created_at: datetime
    proposed_by: uuid.UUID | None
    proposed_at: datetime | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    executed_by: uuid.UUID | None
    execution_requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    counts: PlanCountsOut
    items: list[PlanItemOut]


class PlanSummaryOut(BaseModel):
    plan_id: uuid.UUID
    title: str
    status: PlanStatus
    created_at: datetime
    items: int
    counts: PlanCountsOut


class PlanPreviewOut(BaseModel):
    """The runway before and after every item still to run, together, applied in order to the forecast of now."""

    plan_id: uuid.UUID
    as_of: date
    items: int
    impact: ActionImpactOut | None = Field(description="Null before the business's first sync.")


class PlanTransitionOut(BaseModel):
    plan: PlanOut
    changed: bool = Field(description="False when the plan already was where this request would move it.")
