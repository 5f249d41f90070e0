"""Payables decisions for one business: its open bills, each with its class (Must Pay / Can Delay), reason and dates,
on a board by due window and vendor; its vendors with their settings; and the edits people make to both. Everything is
read from the business's mirror of QuickBooks and our own decisions; nothing here calls QuickBooks.

Today's lists use QuickBooks' own balances (a payment dated ahead already counts there, as QuickBooks shows it);
``load_payables`` answers as of any day for the forecast and the backtest, and ``DecisionInputs`` decides its bills."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.classify import BillDecision, classify
from oodaloo.domains.ap.decisions import (
    BillClass,
    BillPlanRepository,
    PlanChoice,
    VendorSetting,
    VendorSettingRepository,
    VendorSettings,
)
from oodaloo.domains.ap.errors import BillNotFound
from oodaloo.domains.ap.history import OpenBill, load_open_bills, load_vendors
from oodaloo.domains.ap.schemas import (
    BillBoardOut,
    BillDecisionOut,
    BillPlanOut,
    BillPlanPatch,
    BoardBillOut,
    BoardColumnOut,
    DueWindow,
    DueWindowOut,
    OpenBillOut,
    VendorBillsOut,
    VendorOut,
    VendorSettingsPatch,
)
from oodaloo.domains.ap.snapshots import money
from oodaloo.domains.core.models import today_in
from oodaloo.domains.qbo.mirror_models import MirroredBill, MirrorStatus
from oodaloo.domains.qbo.mirror_repository import MirrorNotSynced as MirrorNotSynced  # re-exported
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.web.errors import Conflict, InvalidInput, NotFound

# A plan further out than a year is a typo (a wrong year), not a plan: the forecast looks 13 weeks ahead.
PLAN_MAX_DAYS_AHEAD = 365
ZERO = Decimal("0.00")
WINDOWS: tuple[DueWindow, ...] = ("overdue", "this_week", "next_week", "later")


class BillNotOpen(Conflict):
    code = "bill_not_open"

    def __init__(self, bill_id: str) -> None:
        super().__init__(f"Bill {bill_id} is paid in full; there is nothing left to plan.", field="bill_id")


class VendorNotFound(NotFound):
    def __init__(self, vendor_id: str) -> None:
        super().__init__(f"QuickBooks has no vendor {vendor_id}.", field="vendor_id")


class PlannedPayDateOutOfRange(InvalidInput):
    code = "planned_pay_date_out_of_range"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="planned_pay_date")


@dataclass(frozen=True)
class DecisionInputs:
    """What people decided (vendor settings, bill plans) for deciding many bills at once."""

    vendors: Mapping[str, VendorSettings]
    plans: Mapping[str, PlanChoice]

    def decide(self, bill: OpenBill, today: date) -> BillDecision:
        return classify(bill, self.vendors.get(bill.vendor_id, VendorSettings()), self.plans.get(bill.bill_id), today)


async def load_decision_inputs(session: AsyncSession, business_id: uuid.UUID) -> DecisionInputs:
    settings = await VendorSettingRepository(session, business_id).by_vendor()
    plans = await BillPlanRepository(session, business_id).choices()
    return DecisionInputs({vendor_id: VendorSettings.of(row) for vendor_id, row in settings.items()}, plans)


def window_of(due: date | None, today: date) -> DueWindow:
    """Calendar weeks, Monday to Sunday: this week runs from today to Sunday. No date at all: due now."""
    if due is None:
        return "this_week"
    if due < today:
        return "overdue"
    this_sunday = today + timedelta(days=6 - today.weekday())
    if due <= this_sunday:
        return "this_week"
    return "next_week" if due <= this_sunday + timedelta(days=7) else "later"


class PayablesService:
    """One business's payables decisions, through the caller's session (the boundary commits)."""

    def __init__(
        self, session: AsyncSession, *, business_id: uuid.UUID, timezone: str, realm_id: str | None = None
    ) -> None:
        self._session = session
        self._business_id = business_id
        self._timezone = timezone
        self._realm_id = realm_id
        self._settings = VendorSettingRepository(session, business_id)
        self._plans = BillPlanRepository(session, business_id)

    async def open_bills(self) -> list[OpenBillOut]:
        """The open bills as the bill list shows them, each with its decision (the caller knows the mirror synced)."""
        today = today_in(self._timezone)
        inputs = await load_decision_inputs(self._session, self._business_id)
        return [
            _open_bill_out(bill, inputs.decide(bill, today))
            for bill in await load_open_bills(self._session, self._business_id)
        ]

    async def board(self) -> BillBoardOut:
        await self._require_synced()
        today = today_in(self._timezone)
        inputs = await load_decision_inputs(self._session, self._business_id)
        decided = [
            (bill, inputs.decide(bill, today), inputs.plans.get(bill.bill_id))
            for bill in await load_open_bills(self._session, self._business_id)
        ]
        columns = {
            klass: _column([entry for entry in decided if entry[1].klass is klass], today) for klass in BillClass
        }
        return BillBoardOut(
            today=today,
            timezone=self._timezone,
            must_pay=columns[BillClass.MUST_PAY],
            can_delay=columns[BillClass.CAN_DELAY],
        )

    async def vendors(self) -> list[VendorOut]:
        """Every vendor that is active, is owed something, or has settings; the most owed first."""
        await self._require_synced()
        today = today_in(self._timezone)
        vendors = await load_vendors(self._session, self._business_id)
        settings = await self._settings.by_vendor()
        owed = _owed_by_vendor(await load_open_bills(self._session, self._business_id), today)
        listed = [
            _vendor_out(vendor_id, vendor.name, vendor.active, settings.get(vendor_id), owed.get(vendor_id))
            for vendor_id, vendor in vendors.items()
            if vendor.active or vendor_id in owed or vendor_id in settings
        ]
        return sorted(listed, key=lambda out: (-Decimal(out.open_balance), out.name.casefold(), out.vendor_id))

    async def update_vendor(self, vendor_id: str, changes: VendorSettingsPatch, user_id: uuid.UUID) -> VendorOut:
        await self._require_synced()
        vendor = (await load_vendors(self._session, self._business_id)).get(vendor_id)
        if vendor is None:
            raise VendorNotFound(vendor_id)
        row = await self._settings.for_vendor_or_new(vendor_id)
        for name in changes.model_fields_set:
            setattr(row, name, getattr(changes, name))
        row.updated_by, row.updated_at = user_id, utcnow()
        await self._session.flush()
        bills = await load_open_bills(self._session, self._business_id, vendor_id=vendor_id)
        owed = _owed_by_vendor(bills, today_in(self._timezone)).get(vendor_id)
        return _vendor_out(vendor_id, vendor.name, vendor.active, row, owed)

    async def plan_bill(self, bill_id: str, changes: BillPlanPatch, user_id: uuid.UUID) -> BoardBillOut:
        """Set or clear the bill's class override, note and planned pay date; the bill must be open."""
        await self._require_synced()
        today = today_in(self._timezone)
        if changes.planned_pay_date is not None:
            _check_planned_date(changes.planned_pay_date, today)
        await self._check_open(bill_id)
        plan = await self._plans.for_bill_or_new(bill_id)
        for name in changes.model_fields_set:
            setattr(plan, name, getattr(changes, name))
        plan.set_by, plan.set_at = user_id, utcnow()
        if plan.empty:
            await self._plans.delete(plan)
        else:
            await self._session.flush()
        (bill,) = await load_open_bills(self._session, self._business_id, bill_ids=[bill_id])
        inputs = DecisionInputs(
            {bill.vendor_id: VendorSettings.of(await self._settings.for_vendor(bill.vendor_id))},
            await self._plans.choices([bill_id]),
        )
        return _board_bill_out(bill, inputs.decide(bill, today), inputs.plans.get(bill_id))

    # ----------------------------------------------------------------------------------------------- internals
    async def _require_synced(self) -> None:
        """The mirror is what every answer here is read from: until a first full sync completes it proves nothing."""
        await SyncStateRepository(self._session, self._business_id).require_synced(self._realm_id)

    async def _check_open(self, bill_id: str) -> None:
        row = (
            await self._session.execute(
                select(MirroredBill.status, MirroredBill.balance, MirroredBill.vendor_id).where(
                    MirroredBill.business_id == self._business_id, MirroredBill.qbo_id == bill_id
                )
            )
        ).one_or_none()
        if row is None or row.status is not MirrorStatus.ACTIVE or row.vendor_id is None:
            raise BillNotFound(bill_id)
        if row.balance is None or row.balance <= 0:
            raise BillNotOpen(bill_id)


def _check_planned_date(planned: date, today: date) -> None:
    latest = today + timedelta(days=PLAN_MAX_DAYS_AHEAD)
    if planned < today:
        raise PlannedPayDateOutOfRange(
            f"planned_pay_date {planned.isoformat()} is in the past: plan a day from today, {today.isoformat()} (in "
            "the business's time zone)."
        )
    if planned > latest:
        raise PlannedPayDateOutOfRange(
            f"planned_pay_date {planned.isoformat()} is more than {PLAN_MAX_DAYS_AHEAD} days ahead: plan a day up to "
            f"{latest.isoformat()}."
        )


@dataclass
class _Owed:
    balance: Decimal = ZERO
    bills: int = 0
    overdue: Decimal = ZERO


def _owed_by_vendor(bills: Iterable[OpenBill], today: date) -> dict[str, _Owed]:
    owed: dict[str, _Owed] = defaultdict(_Owed)
    for bill in bills:
        entry = owed[bill.vendor_id]
        entry.balance += bill.balance
        entry.bills += 1
        due = bill.effective_due_date
        if due is not None and due < today:
            entry.overdue += bill.balance
    return dict(owed)


def _vendor_out(vendor_id: str, name: str, active: bool, row: VendorSetting | None, owed: _Owed | None) -> VendorOut:
    settings = VendorSettings.of(row)
    owed = owed or _Owed()
    return VendorOut(
        vendor_id=vendor_id,
        name=name,
        active=active,
        critical=settings.critical,
        grace_days=settings.grace_days,
        late_fees=settings.late_fees,
        note=settings.note,
        open_balance=money(owed.balance),
        open_bills=owed.bills,
        overdue_balance=money(owed.overdue),
        settings_updated_at=row.updated_at if row is not None else None,
    )


def _decision_out(decision: BillDecision) -> BillDecisionOut:
    return BillDecisionOut(
        klass=decision.klass,
        reason=decision.reason,
        rule=decision.rule,
        planned_pay_date=decision.planned_pay_date,
        latest_safe_pay_date=decision.latest_safe_pay_date,
    )


def _open_bill_out(bill: OpenBill, decision: BillDecision) -> OpenBillOut:
    return OpenBillOut(
        bill_id=bill.bill_id,
        vendor_id=bill.vendor_id,
        vendor_name=bill.vendor_name,
        doc_number=bill.doc_number,
        txn_date=bill.txn_date,
        due_date=bill.due_date,
        total=money(bill.total),
        balance=money(bill.balance),
        decision=_decision_out(decision),
    )


def _plan_out(plan: PlanChoice) -> BillPlanOut:
    return BillPlanOut(
        class_override=plan.class_override,
        note=plan.note,
        planned_pay_date=plan.planned_pay_date,
        set_by=plan.set_by_name,
        set_at=plan.set_at,
    )


def _board_bill_out(bill: OpenBill, decision: BillDecision, plan: PlanChoice | None) -> BoardBillOut:
    return BoardBillOut(
        bill_id=bill.bill_id,
        doc_number=bill.doc_number,
        vendor_id=bill.vendor_id,
        vendor_name=bill.vendor_name,
        txn_date=bill.txn_date,
        due_date=bill.due_date,
        total=money(bill.total),
        balance=money(bill.balance),
        expense_accounts=[account.name for account in bill.expense_accounts],
        term=bill.term.name if bill.term is not None else None,
        decision=_decision_out(decision),
        plan=_plan_out(plan) if plan is not None else None,
    )


def _soonest_due(entry: tuple[OpenBill, BillDecision, PlanChoice | None]) -> tuple[date, str]:
    bill = entry[0]
    return (bill.effective_due_date or date.max, bill.bill_id.zfill(20))


def _column(entries: Sequence[tuple[OpenBill, BillDecision, PlanChoice | None]], today: date) -> BoardColumnOut:
    by_window: dict[DueWindow, list[tuple[OpenBill, BillDecision, PlanChoice | None]]] = defaultdict(list)
    for entry in sorted(entries, key=_soonest_due):
        by_window[window_of(entry[0].effective_due_date, today)].append(entry)
    this_sunday = today + timedelta(days=6 - today.weekday())
    spans: dict[DueWindow, tuple[date | None, date | None]] = {
        "overdue": (None, today - timedelta(days=1)),
        "this_week": (today, this_sunday),
        "next_week": (this_sunday + timedelta(days=1), this_sunday + timedelta(days=7)),
        "later": (this_sunday + timedelta(days=8), None),
    }
    windows = [_window(window, spans[window], by_window.get(window, [])) for window in WINDOWS]
    return BoardColumnOut(
        total=money(sum((entry[0].balance for entry in entries), ZERO)), bills=len(entries), windows=windows
    )


def _window(
    window: DueWindow,
    span: tuple[date | None, date | None],
    entries: Sequence[tuple[OpenBill, BillDecision, PlanChoice | None]],
) -> DueWindowOut:
    """Vendors in the order of their soonest bill (``entries`` come soonest due first)."""
    by_vendor: dict[str, list[tuple[OpenBill, BillDecision, PlanChoice | None]]] = {}
    for entry in entries:
        by_vendor.setdefault(entry[0].vendor_id, []).append(entry)
    vendors = [
        VendorBillsOut(
            vendor_id=vendor_id,
            vendor_name=bills[0][0].vendor_name,
            total=money(sum((entry[0].balance for entry in bills), ZERO)),
            bills=[_board_bill_out(*entry) for entry in bills],
        )
        for vendor_id, bills in by_vendor.items()
    ]
    return DueWindowOut(
        window=window,
        starts=span[0],
        ends=span[1],
        total=money(sum((entry[0].balance for entry in entries), ZERO)),
        vendors=vendors,
    )
