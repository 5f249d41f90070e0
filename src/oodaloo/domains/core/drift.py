"""The drift check: after each sync (and after the reconciler re-checked one of our payments), compare what the mirror
shows with what it showed at the last check and with what people planned, and raise one alert per fact.

Why a state table: QBO voids a payment by zeroing it and clearing its lines, so once the mirror holds the voided
version nothing says what it paid; and that an invoice *was* open is gone once it is paid. So each business keeps the
"before" view the last check left (``core_drift_seen``): its live payments (amount, date, party, what each paid) and
its open invoices and bills (balance) — a narrow row each, far smaller than the mirror — and ``core_drift_watermarks``:
when that check began and the mirror cursor it saw. A check reads only the mirror rows written since the last one
began (``synced_at``; our clock on both sides, with an overlap), compares each with its seen row, raises what changed
and updates the view. A new bill is open, not in the view, and created by QBO after the last check's cursor
(CreateTime: QBO's clock, like the cursor; a bill reopened by a void is not new). The first check of a business (or of
a realm it switched to) only records the view: history is not news. Checks are serialized with the realm's syncs (the
sync job's key), so none reads a sync half-written; alerts are unique per (kind, subject), so re-reading a row, or
running a check twice, never raises one twice.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import JSON, Date, ForeignKey, String, UniqueConstraint, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from oodaloo.domains.ap.decisions import BillPlan
from oodaloo.domains.ap.scheduled_models import ScheduledPayment, ScheduledStatus
from oodaloo.domains.core.alerts import (
    MONEY,
    Alert,
    AlertDraft,
    AlertKind,
    AlertRepository,
    resolve,
)
from oodaloo.domains.core.cash import load_cash_ledger
from oodaloo.domains.core.models import Business
from oodaloo.domains.core.plan_models import Plan, PlanItem, PlanItemStatus, PlanStatus
from oodaloo.domains.core.snapshots import RunwayGauge, RunwayReading, SnapshotRepository
from oodaloo.domains.qbo.mirror_models import (
    QBO_ID_LENGTH,
    MirroredBill,
    MirroredBillPayment,
    MirroredCustomer,
    MirroredInvoice,
    MirroredPayment,
    MirroredRow,
    MirroredVendor,
    MirrorStatus,
    SyncState,
    TransactionRow,
    money,
    ref_id,
)
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.sync_jobs import serialization_key
from oodaloo.infra.db.base import Base, IdMixin, utcnow
from oodaloo.infra.db.repository import TenantRepository
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import QBOAction
from oodaloo.infra.jobs.smart_sync import JobSender, SmartSyncService
from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.core.drift")

DRIFT_CHECK_JOB = "core.drift_check"
ZERO = Decimal("0.00")
# Rows written up to this long before the last check began are read again: a write stamped just before the check
# began but committed after it read would otherwise be missed. Re-reading costs nothing (the view and the alerts'
# unique keys absorb it). Also the slack on QBO's CreateTime against the cursor (CDC itself overlaps by a minute).
OVERLAP = timedelta(minutes=5)
# The runway alert: more than this many days lost since the last snapshot before today.
RUNWAY_DROP_DAYS = 7
# The drift the reconciler records on one of our payments when QBO no longer shows it (``ap.actions``).
PAYMENT_GONE = frozenset({"voided", "deleted", "missing"})
IDS_PER_STATEMENT = 500
# Plans whose pending items are still meant to happen.
LIVE_PLANS = (PlanStatus.PROPOSED, PlanStatus.APPROVED, PlanStatus.EXECUTING)
BILL = "Bill"
INVOICE = "Invoice"
BILL_PAYMENT = "BillPayment"
PAYMENT = "Payment"
_PAYMENT_MODELS: dict[str, type[TransactionRow]] = {BILL_PAYMENT: MirroredBillPayment, PAYMENT: MirroredPayment}
_SUBJECT_OF_PAYMENT = {BILL_PAYMENT: "bill_payment", PAYMENT: "payment"}


@dataclass(frozen=True)
class LargeBillRule:
    """A new bill is large when it is at least ``median_multiple`` times the median bill dated in the last
    ``history_days`` (judged only with at least ``min_history`` such bills) and at least ``outflow_share`` of an
    average week's cash outflows from the bank over the last ``outflow_days`` (judged only when the bank shows any).
    Unusual for this business and material to its cash: a bill that passes only one test is routine for it (a big
    supplier it pays every month) or too small to move the runway. With neither test possible, no bill is large."""

    median_multiple: Decimal = Decimal(3)
    history_days: int = 180
    min_history: int = 5
    outflow_share: Decimal = Decimal("0.5")
    outflow_days: int = 90

    def verdict(self, total: Decimal, typical: Decimal | None, weekly_outflows: Decimal | None) -> str | None:
        """Why ``total`` is large (a clause), or None when it is not (or cannot be judged)."""
        clauses: list[str] = []
        if typical is not None and typical > 0:
            if total < self.median_multiple * typical:
                return None
            clauses.append(f"{total / typical:.1f}x the median bill of the last {self.history_days} days")
        if weekly_outflows is not None and weekly_outflows > 0:
            if total < self.outflow_share * weekly_outflows:
                return None
            clauses.append(f"{total / weekly_outflows:.1f} weeks of the bank's average outflows")
        return " and ".join(clauses) or None


LARGE_BILL_RULE = LargeBillRule()


# ------------------------------------------------------------------------------------------------- the view
class DriftWatermark(IdMixin, Base):
    """When a business's last drift check began (our clock) and the mirror cursor it saw (QBO's clock), for the realm
    it checked."""

    __tablename__ = "core_drift_watermarks"

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), unique=True)
    realm_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    mirror_cursor: Mapped[datetime]
    checked_at: Mapped[datetime]


class DriftSeen(IdMixin, Base):
    """One payment (live) or invoice (open) as the last drift check saw it: ``amount`` is a payment's total or an
    invoice's balance; ``links`` what a payment paid, as [type, id, amount] (amounts as decimal strings)."""

    __tablename__ = "core_drift_seen"
    __table_args__ = (
        UniqueConstraint("business_id", "entity", "qbo_id", name="uq_core_drift_seen_business_id_entity_qbo_id"),
    )

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(32))
    qbo_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    doc_number: Mapped[str | None] = mapped_column(String(64))
    party_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    txn_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    links: Mapped[list[list[str]] | None] = mapped_column(JSON)


class DriftWatermarkRepository(TenantRepository[DriftWatermark]):
    model = DriftWatermark

    async def current(self) -> DriftWatermark | None:
        return await self.one_or_none(self.select())


class DriftSeenRepository(TenantRepository[DriftSeen]):
    model = DriftSeen

    async def of(self, entity: str, qbo_ids: Iterable[str]) -> dict[str, DriftSeen]:
        ids = sorted(set(qbo_ids))
        found: dict[str, DriftSeen] = {}
        for start in range(0, len(ids), IDS_PER_STATEMENT):
            chunk = ids[start : start + IDS_PER_STATEMENT]
            statement = self.select().where(DriftSeen.entity == entity, DriftSeen.qbo_id.in_(chunk))
            found.update({row.qbo_id: row for row in await self.all(statement)})
        return found

    async def forget_all(self) -> None:
        await self.session.execute(delete(DriftSeen).where(DriftSeen.business_id == self.business_id))


# ------------------------------------------------------------------------------------------ reading the mirror
DocumentT = TypeVar("DocumentT", MirroredInvoice, MirroredBill)
Link = tuple[str, str, Decimal]  # (TxnType, TxnId, amount of the line)


def links_of(raw: dict[str, Any]) -> list[Link]:
    """What a payment paid: each line's linked transactions, with the line's amount."""
    found: list[Link] = []
    for line in raw.get("Line") or []:
        if not isinstance(line, dict):
            continue
        amount = money(line, "Amount") or ZERO
        for linked in line.get("LinkedTxn") or []:
            if isinstance(linked, dict) and linked.get("TxnId") is not None:
                found.append((str(linked.get("TxnType")), str(linked["TxnId"]), amount))
    return found


def _stored_links(links: Sequence[Link]) -> list[list[str]]:
    return [[kind, qbo_id, str(amount)] for kind, qbo_id, amount in links]


def _read_links(stored: list[list[str]] | None) -> list[Link]:
    return [(kind, qbo_id, Decimal(amount)) for kind, qbo_id, amount in stored or []]


def _party(entity: str, raw: dict[str, Any]) -> str | None:
    return ref_id(raw, "VendorRef" if entity == BILL_PAYMENT else "CustomerRef")


def _seen_payment(business_id: uuid.UUID, entity: str, row: TransactionRow) -> DriftSeen:
    raw = row.raw
    return DriftSeen(
        business_id=business_id,
        entity=entity,
        qbo_id=row.qbo_id,
        doc_number=row.doc_number,
        party_id=_party(entity, raw),
        txn_date=row.txn_date,
        amount=money(raw, "TotalAmt") or ZERO,
        links=_stored_links(links_of(raw)),
    )


def _seen_open(business_id: uuid.UUID, entity: str, row: MirroredInvoice | MirroredBill) -> DriftSeen:
    """An open invoice or bill in the view: its balance, customer or vendor, number and date."""
    return DriftSeen(
        business_id=business_id,
        entity=entity,
        qbo_id=row.qbo_id,
        doc_number=row.doc_number,
        party_id=row.customer_id if isinstance(row, MirroredInvoice) else row.vendor_id,
        txn_date=row.txn_date,
        amount=row.balance or ZERO,
        links=None,
    )


def _is_open(row: MirroredInvoice | MirroredBill) -> bool:
    return row.status is MirrorStatus.ACTIVE and (row.balance or ZERO) > 0


def _label(kind: str, doc_number: str | None, qbo_id: str) -> str:
    return f"{kind} {doc_number}" if doc_number else f"{kind} #{qbo_id}"


# ----------------------------------------------------------------------------------------------- the check
@dataclass
class DriftReport:
    """What one check did: the alerts it raised and resolved; ``baseline``: it only recorded the view."""

    raised: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    baseline: bool = False


class DriftCheck:
    """One business's drift check, in the caller's unit of work (it only flushes)."""

    def __init__(
        self,
        session: AsyncSession,
        business: Business,
        *,
        gauge: RunwayGauge,
        rule: LargeBillRule = LARGE_BILL_RULE,
        runway_drop_days: int = RUNWAY_DROP_DAYS,
    ) -> None:
        self._session = session
        self._business = business
        self._gauge = gauge
        self._rule = rule
        self._runway_drop_days = runway_drop_days
        self._alerts = AlertRepository(session, business.id)
        self._seen = DriftSeenRepository(session, business.id)
        self._base = f"/api/businesses/{business.id}"
        self._today = business.today()
        self._reading: RunwayReading | None = None
        self._read = False

    async def run(self) -> DriftReport:
        started = utcnow()
        report = DriftReport()
        drafts: list[AlertDraft] = []
        state = await self._session.scalar(select(SyncState).where(SyncState.business_id == self._business.id))
        synced = state is not None and state.realm_id == self._business.qbo_realm_id
        since: datetime | None = None
        if state is not None and synced and state.cdc_cursor is not None:
            since, report.baseline, found = await self._mirror_changes(state.realm_id, state.cdc_cursor, started)
            drafts += found
            drafts += await self._runway_dropped()
        drafts += await self._our_payments_gone(since)
        for draft in drafts:
            raised = await self._alerts.raise_once(draft)
            if raised is not None:
                report.raised.append(raised)
                logger.info("core.alert_raised", business_id=str(self._business.id), kind=draft.kind.value)
        if synced:
            report.resolved = await self._settled()
        await self._session.flush()
        return report

    async def _mirror_changes(
        self, realm_id: str, cursor: datetime, started: datetime
    ) -> tuple[datetime | None, bool, list[AlertDraft]]:
        """What changed in the mirror since the last check (None, True, []: this is the first look); the watermark
        moves to this check."""
        watermarks = DriftWatermarkRepository(self._session, self._business.id)
        mark = await watermarks.current()
        since: datetime | None = None
        drafts: list[AlertDraft] = []
        if mark is None or mark.realm_id != realm_id:
            await self._record_view()
        else:
            since = mark.checked_at - OVERLAP
            drafts = await self._compare(since, mark.mirror_cursor)
        if mark is None:
            await watermarks.add(DriftWatermark(realm_id=realm_id, mirror_cursor=cursor, checked_at=started))
        else:
            mark.realm_id, mark.mirror_cursor, mark.checked_at = realm_id, cursor, started
        return since, since is None, drafts

    # -- the view ---------------------------------------------------------------------------------------------
    async def _record_view(self) -> None:
        """The first look (or a new realm's): the live payments and open invoices and bills as they are; nothing is
        raised."""
        await self._seen.forget_all()
        rows: list[DriftSeen] = []
        for entity, model in _PAYMENT_MODELS.items():
            statement = select(model).where(model.business_id == self._business.id, model.status == MirrorStatus.ACTIVE)
            rows += [_seen_payment(self._business.id, entity, row) for row in await self._session.scalars(statement)]
        rows += [_seen_open(self._business.id, INVOICE, row) for row in await self._open(MirroredInvoice)]
        rows += [_seen_open(self._business.id, BILL, row) for row in await self._open(MirroredBill)]
        self._session.add_all(rows)
        await self._session.flush()

    async def _open(self, model: type[DocumentT]) -> list[DocumentT]:
        statement = select(model).where(
            model.business_id == self._business.id, model.status == MirrorStatus.ACTIVE, model.balance > 0
        )
        return list((await self._session.scalars(statement)).all())

    async def _changed(self, model: type[MirroredRow], since: datetime) -> list[Any]:
        statement = select(model).where(model.business_id == self._business.id, model.synced_at >= since)
        return list((await self._session.scalars(statement)).all())

    async def _compare(self, since: datetime, cursor: datetime) -> list[AlertDraft]:
        drafts: list[AlertDraft] = []
        new_bill_links: list[tuple[MirroredBillPayment, list[Link]]] = []
        # Invoice id -> the customer payments that newly paid it (not those the view already had paying it).
        newly_paying: dict[str, list[TransactionRow]] = {}
        for entity, model in _PAYMENT_MODELS.items():
            rows = await self._changed(model, since)
            seen = await self._seen.of(entity, (row.qbo_id for row in rows))
            for row in rows:
                before = seen.get(row.qbo_id)
                if row.status in (MirrorStatus.VOIDED, MirrorStatus.DELETED):
                    if before is not None:
                        drafts.append(await self._payment_gone(entity, row, before))
                        await self._session.delete(before)
                    continue
                if row.status is not MirrorStatus.ACTIVE:
                    continue
                now = _seen_payment(self._business.id, entity, row)
                known = {(kind, qbo_id) for kind, qbo_id, _ in _read_links(before.links if before else None)}
                added = [link for link in links_of(row.raw) if (link[0], link[1]) not in known]
                self._keep(before, now)
                if entity == BILL_PAYMENT and added:
                    assert isinstance(row, MirroredBillPayment)
                    new_bill_links.append((row, [link for link in added if link[0] == BILL]))
                for kind, invoice_id, _ in added if entity == PAYMENT else ():
                    if kind == INVOICE:
                        newly_paying.setdefault(invoice_id, []).append(row)
        drafts += await self._planned_bills_paid_elsewhere(new_bill_links)
        drafts += await self._invoices_paid(await self._changed(MirroredInvoice, since), newly_paying)
        drafts += await self._large_new_bills(await self._changed(MirroredBill, since), cursor)
        await self._session.flush()
        return drafts

    # -- a payment voided or deleted ----------------------------------------------------------------------------
    async def _payment_gone(self, entity: str, row: MirroredRow, before: DriftSeen) -> AlertDraft:
        gone = "deleted" if row.status is MirrorStatus.DELETED else "voided"
        links = _read_links(before.links)
        return await self._gone_draft(
            entity, row.qbo_id, before.doc_number, before.party_id, before.txn_date, before.amount, links, gone
        )

    async def _gone_draft(
        self,
        entity: str,
        qbo_id: str,
        doc_number: str | None,
        party_id: str | None,
        txn_date: date | None,
        amount: Decimal,
        links: Sequence[Link],
        gone: str,
    ) -> AlertDraft:
        vendor = entity == BILL_PAYMENT
        party = await self._name(MirroredVendor if vendor else MirroredCustomer, party_id)
        dated = f", dated {txn_date.isoformat()}" if txn_date else ""
        payment = (
            f"{_label(entity, doc_number, qbo_id)} {'to' if vendor else 'from'} {party} ({self._money(amount)}{dated})"
        )
        paid_kind = BILL if vendor else INVOICE
        paid = [(paid_id, part) for kind, paid_id, part in links if kind == paid_kind]
        if paid:
            owed = ", ".join(f"{paid_kind.lower()} #{paid_id} ({self._money(part)})" for paid_id, part in paid)
            again = f"{owed} {'is' if len(paid) == 1 else 'are'} open again"
        else:
            again = "what it paid is open again"
        if vendor:
            counted = "and back among the bills the forecast pays"
            first = paid[0][0] if paid else None
            what = (
                f"Check with {party} why it was {gone}, then pay bill #{first} again or plan when to."
                if first
                else f"Check with {party} why it was {gone}, then review the open bills."
            )
            method, path = (
                ("POST", f"{self._base}/bills/{first}/pay") if first else ("GET", f"{self._base}/bills/board")
            )
        else:
            counted = "and back among the money the forecast expects"
            what = f"Ask {party} whether the payment failed, and chase what is owed again."
            method, path = "GET", f"{self._base}/collections"
        return AlertDraft(
            kind=AlertKind.PAYMENT_VOIDED,
            subject_type=_SUBJECT_OF_PAYMENT[entity],
            subject_id=qbo_id,
            subject_name=f"{party}, {_label(entity, doc_number, qbo_id)}",
            amount=amount,
            reason=f"{payment} was {gone} in QuickBooks: {again} {counted}.",
            what_to_do=what,
            action_method=method,
            action_path=path,
        )

    async def _our_payments_gone(self, since: datetime | None) -> list[AlertDraft]:
        """Our own payments the reconciler found voided, deleted or missing in QBO (``QBOAction.drift``), perhaps
        before a sync told the mirror: the same alert as the mirror's (same subject), whichever comes first."""
        statement = select(QBOAction).where(
            QBOAction.business_id == self._business.id,
            QBOAction.qbo_entity == BILL_PAYMENT,
            QBOAction.verified_at.is_not(None),
        )
        if since is not None:
            statement = statement.where(QBOAction.verified_at >= since)
        drafts: list[AlertDraft] = []
        for action in await self._session.scalars(statement):
            drift = action.drift
            if not isinstance(drift, dict) or drift.get("reason") not in PAYMENT_GONE or action.qbo_id is None:
                continue
            payload = action.payload
            amount = Decimal(str(payload.get("amount", "0")))
            links = [(BILL, str(payload["bill_id"]), amount)] if payload.get("bill_id") else []
            txn_date = date.fromisoformat(str(payload["txn_date"])) if payload.get("txn_date") else None
            gone = "voided" if drift["reason"] == "voided" else "deleted"
            drafts.append(
                await self._gone_draft(
                    BILL_PAYMENT, action.qbo_id, None, payload.get("vendor_id"), txn_date, amount, links, gone
                )
            )
        return drafts

    # -- a planned bill paid elsewhere ---------------------------------------------------------------------------
    async def _planned_bills_paid_elsewhere(
        self, new_links: Sequence[tuple[MirroredBillPayment, list[Link]]]
    ) -> list[AlertDraft]:
        bill_ids = {bill_id for _, links in new_links for _, bill_id, _ in links}
        if not bill_ids:
            return []
        plans = await self._plans_for(bill_ids)
        candidates = [(payment, links) for payment, links in new_links if any(link[1] in plans for link in links)]
        if not candidates:
            return []
        ours = await self._ours([payment for payment, _ in candidates])
        bills = await self._rows(MirroredBill, {link[1] for _, links in candidates for link in links})
        drafts: list[AlertDraft] = []
        for payment, links in candidates:
            if payment.qbo_id in ours:
                continue
            for _, bill_id, part in links:
                planned = plans.get(bill_id)
                bill = bills.get(bill_id)
                if planned is None or bill is None:
                    continue
                drafts.append(await self._paid_elsewhere(bill, planned, payment, part))
        return drafts

    async def _plans_for(self, bill_ids: set[str]) -> dict[str, str]:
        """Which of ``bill_ids`` someone planned to pay, each with how (a clause): a planned pay date, a scheduled
        payment not yet made, or a pending item of a plan proposed, approved or executing."""
        ids = sorted(bill_ids)
        plans: dict[str, str] = {}
        statement = select(BillPlan.bill_id, BillPlan.planned_pay_date).where(
            BillPlan.business_id == self._business.id, BillPlan.bill_id.in_(ids), BillPlan.planned_pay_date.is_not(None)
        )
        for bill_id, planned in await self._session.execute(statement):
            plans[bill_id] = f"was planned to be paid on {planned}"
        scheduled = select(ScheduledPayment.bill_id, ScheduledPayment.pay_on).where(
            ScheduledPayment.business_id == self._business.id,
            ScheduledPayment.bill_id.in_(ids),
            ScheduledPayment.status == ScheduledStatus.SCHEDULED,
        )
        for bill_id, pay_on in await self._session.execute(scheduled):
            plans.setdefault(bill_id, f"was scheduled to be paid on {pay_on.isoformat()}")
        items = (
            select(PlanItem.request, Plan.title, Plan.status)
            .join(Plan, Plan.id == PlanItem.plan_id)
            .where(
                PlanItem.business_id == self._business.id,
                PlanItem.status == PlanItemStatus.PENDING,
                Plan.status.in_(LIVE_PLANS),
            )
        )
        for request, title, status in await self._session.execute(items):
            planned_bill = request.get("bill_id") if isinstance(request, dict) else None
            if planned_bill is not None and str(planned_bill) in bill_ids:
                plans.setdefault(str(planned_bill), f'is in the {status.value} plan "{title}"')
        return plans

    async def _ours(self, payments: Sequence[MirroredBillPayment]) -> set[str]:
        """Which of ``payments`` Oodaloo made: its action log names the payment, or the payment carries the marker an
        action wrote into it (an action whose outcome is not settled yet has no id recorded)."""
        ids = [payment.qbo_id for payment in payments]
        notes = {
            str(payment.raw.get("PrivateNote")): payment.qbo_id
            for payment in payments
            if payment.raw.get("PrivateNote")
        }
        statement = select(QBOAction.qbo_id, QBOAction.qbo_entity, QBOAction.marker).where(
            QBOAction.business_id == self._business.id,
            or_(
                and_(QBOAction.qbo_entity == BILL_PAYMENT, QBOAction.qbo_id.in_(ids)),
                QBOAction.marker.in_(sorted(notes)),
            ),
        )
        ours: set[str] = set()
        for qbo_id, entity, marker in await self._session.execute(statement):
            if entity == BILL_PAYMENT and qbo_id in ids:
                ours.add(qbo_id)
            if marker in notes:
                ours.add(notes[marker])
        return ours

    async def _paid_elsewhere(
        self, bill: MirroredBill, planned: str, payment: MirroredBillPayment, part: Decimal
    ) -> AlertDraft:
        vendor = await self._name(MirroredVendor, bill.vendor_id)
        label = _label("bill", bill.doc_number, bill.qbo_id)
        left = bill.balance if bill.status is MirrorStatus.ACTIVE and bill.balance is not None else ZERO
        dated = f" on {payment.txn_date.isoformat()}" if payment.txn_date else ""
        reason = (
            f"{vendor}'s {label} {planned}, but QuickBooks shows "
            f"{_label('BillPayment', payment.doc_number, payment.qbo_id)} paying {self._money(part)} of it{dated}, "
            f"which Oodaloo did not make; {self._money(left)} is left to pay."
        )
        if left > 0:
            what = f"Check the payment in QuickBooks, then plan the {self._money(left)} left (or clear the plan)."
            method, path = "PATCH", f"{self._base}/bills/{bill.qbo_id}/plan"
        else:
            what = "Check in QuickBooks that the bill was not paid twice; nothing is left, so Oodaloo will not pay it."
            method, path = "GET", f"{self._base}/bills/board"
        return AlertDraft(
            kind=AlertKind.BILL_PAID_ELSEWHERE,
            subject_type="bill",
            subject_id=bill.qbo_id,
            subject_name=f"{vendor}, {label}",
            amount=part,
            reason=reason,
            what_to_do=what,
            action_method=method,
            action_path=path,
        )

    # -- an invoice paid ---------------------------------------------------------------------------------------
    async def _invoices_paid(
        self, invoices: Sequence[MirroredInvoice], newly_paying: dict[str, list[TransactionRow]]
    ) -> list[AlertDraft]:
        seen = await self._seen.of(INVOICE, (row.qbo_id for row in invoices))
        drafts: list[AlertDraft] = []
        for row in invoices:
            before = seen.get(row.qbo_id)
            if _is_open(row):
                self._keep(before, _seen_open(self._business.id, INVOICE, row))
                continue
            if before is None:
                continue
            await self._session.delete(before)
            if row.status is MirrorStatus.ACTIVE and (row.total_amt or ZERO) > 0:
                settling = newly_paying.get(row.qbo_id, [])
                drafts.append(await self._invoice_paid(row, before.amount, settling))
        return drafts

    async def _invoice_paid(
        self, invoice: MirroredInvoice, was_owed: Decimal, settling: Sequence[TransactionRow]
    ) -> AlertDraft:
        customer = await self._name(MirroredCustomer, invoice.customer_id)
        label = _label("invoice", invoice.doc_number, invoice.qbo_id)
        due = f", due {invoice.due_date.isoformat()}" if invoice.due_date else ""
        if settling:
            by = ", ".join(
                _label("Payment", payment.doc_number, payment.qbo_id)
                + (f" of {payment.txn_date.isoformat()}" if payment.txn_date else "")
                for payment in settling
            )
            how = f"settled by {by}"
        else:
            how = "settled in QuickBooks"
        return AlertDraft(
            kind=AlertKind.INVOICE_PAID,
            subject_type="invoice",
            subject_id=invoice.qbo_id,
            subject_name=f"{customer}, {label}",
            amount=was_owed,
            reason=(
                f"{customer} paid {label} ({self._money(was_owed)} was open{due}): {how}. The forecast now counts it "
                "as cash instead of expecting it."
            ),
            what_to_do="Nothing to chase; see how the runway moved.",
            action_method="GET",
            action_path=f"{self._base}/runway",
        )

    # -- a large new bill ----------------------------------------------------------------------------------------
    async def _large_new_bills(self, bills: Sequence[MirroredBill], cursor: datetime) -> list[AlertDraft]:
        """Bills open now that the view did not have and that QBO created since the last check's cursor (a bill
        reopened by a voided payment is old news, raised as the payment's)."""
        seen = await self._seen.of(BILL, (bill.qbo_id for bill in bills))
        new: list[MirroredBill] = []
        for bill in bills:
            before = seen.get(bill.qbo_id)
            if not _is_open(bill):
                if before is not None:
                    await self._session.delete(before)
                continue
            self._keep(before, _seen_open(self._business.id, BILL, bill))
            created = bill.qbo_created_at
            if before is None and created is not None and created > cursor - OVERLAP and (bill.total_amt or ZERO) > 0:
                new.append(bill)
        if not new:
            return []
        typical = await self._typical_bill(exclude={bill.qbo_id for bill in new})
        weekly_outflows = await self._weekly_outflows()
        drafts: list[AlertDraft] = []
        for bill in new:
            total = bill.total_amt or ZERO
            why = self._rule.verdict(total, typical, weekly_outflows)
            if why is not None:
                drafts.append(await self._large_bill(bill, total, why, typical, weekly_outflows))
        return drafts

    def _keep(self, before: DriftSeen | None, now: DriftSeen) -> None:
        """Put ``now`` in the view, over ``before`` (the same document as the last check saw it) when there is one."""
        if before is None:
            self._session.add(now)
            return
        before.doc_number, before.party_id, before.txn_date = now.doc_number, now.party_id, now.txn_date
        before.amount, before.links = now.amount, now.links

    async def _typical_bill(self, exclude: set[str]) -> Decimal | None:
        """The median total of the live bills dated in the rule's history window (the new ones left out); None with
        too few to judge by."""
        start = self._today - timedelta(days=self._rule.history_days)
        statement = select(MirroredBill.qbo_id, MirroredBill.total_amt).where(
            MirroredBill.business_id == self._business.id,
            MirroredBill.status == MirrorStatus.ACTIVE,
            MirroredBill.txn_date > start,
            MirroredBill.txn_date <= self._today,
        )
        totals = [total for qbo_id, total in await self._session.execute(statement) if qbo_id not in exclude and total]
        if len(totals) < self._rule.min_history:
            return None
        return Decimal(statistics.median(totals))

    async def _weekly_outflows(self) -> Decimal | None:
        ledger = await load_cash_ledger(self._session, self._business.id)
        days = self._rule.outflow_days
        outflows = ledger.flows(self._today - timedelta(days=days), self._today).outflows
        return outflows * 7 / days if outflows > 0 else None

    async def _large_bill(
        self, bill: MirroredBill, total: Decimal, why: str, typical: Decimal | None, weekly: Decimal | None
    ) -> AlertDraft:
        vendor = await self._name(MirroredVendor, bill.vendor_id)
        label = _label("bill", bill.doc_number, bill.qbo_id)
        due = f", due {bill.due_date.isoformat()}" if bill.due_date else ""
        basis = []
        if typical is not None:
            basis.append(f"median bill {self._money(typical)}")
        if weekly is not None:
            basis.append(f"average outflows {self._money(weekly)} a week")
        return AlertDraft(
            kind=AlertKind.LARGE_BILL,
            subject_type="bill",
            subject_id=bill.qbo_id,
            subject_name=f"{vendor}, {label}",
            amount=total,
            reason=(f"A new {label} from {vendor} for {self._money(total)}{due}, is {why} ({'; '.join(basis)})."),
            what_to_do="See what it does to the runway, then plan when to pay it (or mark it Can Delay).",
            action_method="PATCH",
            action_path=f"{self._base}/bills/{bill.qbo_id}/plan",
        )

    # -- the runway dropped --------------------------------------------------------------------------------------
    async def _runway(self) -> RunwayReading | None:
        if not self._read:
            self._reading = await self._gauge(self._session, self._business)
            self._read = True
        return self._reading

    async def _runway_dropped(self) -> list[AlertDraft]:
        """The runway now against the last snapshot before today (a stable baseline for the whole day: checks after
        every sync of the day compare with the same one, and raise at most one alert)."""
        baseline = await SnapshotRepository(self._session, self._business.id).latest_before(self._today)
        if baseline is None:
            return []
        reading = await self._runway()
        if reading is None:
            return []
        before = baseline.runway
        lost = before.capped_days - reading.capped_days
        if lost <= self._runway_drop_days:
            return []
        return [
            AlertDraft(
                kind=AlertKind.RUNWAY_DROP,
                subject_type="runway",
                subject_id=f"since:{baseline.day.isoformat()}",
                subject_name="Runway",
                amount=None,
                reason=(
                    f"The runway fell from {before.describe()} on {baseline.day.isoformat()} to {reading.describe()} "
                    f"today, {'at least ' if before.days is None else ''}{lost} days less (more than the "
                    f"{self._runway_drop_days}-day threshold)."
                ),
                what_to_do="See which weeks changed and what can be delayed or collected sooner.",
                action_method="GET",
                action_path=f"{self._base}/runway",
            )
        ]

    # -- alerts the books settled --------------------------------------------------------------------------------
    async def _settled(self) -> list[Alert]:
        """Resolve what no longer needs attention: a large bill paid or removed; a runway back within the threshold
        of the snapshot it was compared with."""
        resolved: list[Alert] = []
        large = await self._alerts.unresolved(AlertKind.LARGE_BILL)
        bills = await self._rows(MirroredBill, {alert.subject_id for alert in large})
        for alert in large:
            bill = bills.get(alert.subject_id)
            if bill is None or bill.status is not MirrorStatus.ACTIVE:
                resolve(alert, "The bill was removed from QuickBooks.")
            elif (bill.balance or ZERO) <= 0:
                resolve(alert, "The bill is paid in full.")
            else:
                continue
            resolved.append(alert)
        drops = await self._alerts.unresolved(AlertKind.RUNWAY_DROP)
        snapshots = SnapshotRepository(self._session, self._business.id)
        for alert in drops:
            baseline = await snapshots.on(date.fromisoformat(alert.subject_id.removeprefix("since:")))
            reading = await self._runway() if baseline is not None else None
            if baseline is None or reading is None:
                continue
            if baseline.runway.capped_days - reading.capped_days <= self._runway_drop_days:
                resolve(alert, f"The runway is back to {reading.describe()}.")
                resolved.append(alert)
        return resolved

    # -- helpers ---------------------------------------------------------------------------------------------
    async def _rows(self, model: type[MirroredBill], qbo_ids: Iterable[str]) -> dict[str, MirroredBill]:
        ids = sorted(set(qbo_ids))
        found: dict[str, MirroredBill] = {}
        for start in range(0, len(ids), IDS_PER_STATEMENT):
            statement = select(model).where(
                model.business_id == self._business.id, model.qbo_id.in_(ids[start : start + IDS_PER_STATEMENT])
            )
            found.update({row.qbo_id: row for row in await self._session.scalars(statement)})
        return found

    async def _name(self, model: type[MirroredVendor] | type[MirroredCustomer], qbo_id: str | None) -> str:
        kind = "Vendor" if model is MirroredVendor else "Customer"
        if qbo_id is None:
            return f"an unknown {kind.lower()}"
        name = await self._session.scalar(
            select(model.name).where(model.business_id == self._business.id, model.qbo_id == qbo_id)
        )
        return name or f"{kind} #{qbo_id}"

    def _money(self, amount: Decimal) -> str:
        return f"{self._business.currency} {amount:,.2f}"


# ------------------------------------------------------------------------------------------------- the job
class DriftChecks:
    """The drift check as a job kind: asked for after each successful sync (``MirrorSyncJobs.after_sync``), run under
    the realm's serialization key (never beside a sync of it) and coalesced per business; its sweep finds businesses
    whose mirror moved since their last check, or whose payments the reconciler re-checked since — the work a lost
    request left behind."""

    def __init__(
        self,
        *,
        smart_sync: SmartSyncService,
        sessionmaker: async_sessionmaker[AsyncSession],
        gauge: RunwayGauge,
        rule: LargeBillRule = LARGE_BILL_RULE,
    ) -> None:
        self._smart_sync = smart_sync
        self._sessionmaker = sessionmaker
        self._gauge = gauge
        self._rule = rule

    def register(self, *, sweep: bool = True) -> None:
        self._smart_sync.register_job(DRIFT_CHECK_JOB, self._run, sweep=self._sweep if sweep else None)

    async def request(self, business_id: uuid.UUID, *, jobs: JobSender | None = None) -> bool:
        """Ask for the business's check; False when merged into one already queued (or no queue runs jobs)."""
        async with unit_of_work(self._sessionmaker) as session:
            realm_id = await session.scalar(
                select(QBOConnection.realm_id).where(QBOConnection.business_id == business_id)
            )
        payload = {"business_id": str(business_id)}
        keys: dict[str, Any] = {
            "serialize_on": serialization_key(realm_id) if realm_id is not None else None,
            "coalesce_on": f"core-drift-check:{business_id}",
        }
        if jobs is not None:
            return await jobs.enqueue(DRIFT_CHECK_JOB, payload, **keys)
        return await self._smart_sync.enqueue_job(DRIFT_CHECK_JOB, payload, **keys)

    async def check(self, business_id: uuid.UUID) -> DriftReport:
        """Run the business's check now, in a unit of work of its own."""
        async with unit_of_work(self._sessionmaker) as session:
            business = await session.get(Business, business_id)
            if business is None:
                return DriftReport()
            return await DriftCheck(session, business, gauge=self._gauge, rule=self._rule).run()

    async def _run(self, payload: dict[str, Any]) -> None:
        await self.check(uuid.UUID(payload["business_id"]))

    async def _sweep(self, jobs: JobSender) -> int:
        due = await self.due()
        for business_id in due:
            await self.request(business_id, jobs=jobs)
        return len(due)

    async def due(self) -> list[uuid.UUID]:
        """Connected businesses whose synced mirror is not where their last check left it (never checked, another
        realm, a newer cursor), or with a payment of ours re-checked by the reconciler since."""
        mirror_moved = (
            select(SyncState.business_id)
            .join(Business, Business.id == SyncState.business_id)
            .join(QBOConnection, QBOConnection.business_id == SyncState.business_id)
            .outerjoin(DriftWatermark, DriftWatermark.business_id == SyncState.business_id)
            .where(
                QBOConnection.status == ConnectionStatus.CONNECTED,
                SyncState.cdc_cursor.is_not(None),
                SyncState.realm_id == Business.qbo_realm_id,
                or_(
                    DriftWatermark.id.is_(None),
                    DriftWatermark.realm_id != SyncState.realm_id,
                    DriftWatermark.mirror_cursor < SyncState.cdc_cursor,
                ),
            )
        )
        rechecked = (
            select(QBOAction.business_id)
            .join(DriftWatermark, DriftWatermark.business_id == QBOAction.business_id)
            .where(QBOAction.qbo_entity == BILL_PAYMENT, QBOAction.verified_at > DriftWatermark.checked_at)
            .distinct()
        )
        async with unit_of_work(self._sessionmaker) as session:
            found = list((await session.scalars(mirror_moved)).all())
            found += list((await session.scalars(rechecked)).all())
        return list(dict.fromkeys(found))
