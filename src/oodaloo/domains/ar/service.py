"""Receivables for the API: open invoices with their expected collection, customers with their payment behaviour, and
the collections list with the aging of receivables, as of the business's today (in its time zone).

Everything is read from the business's mirror of QuickBooks, never from QuickBooks itself: one load of the history
per service (four queries), then pure computation. A business whose mirror is not synced yet has nothing to list."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ar.behaviour import Behaviours, CustomerBehaviour, learn_behaviour
from oodaloo.domains.ar.collections import AgingBucket, aging, aging_bucket, rank_for_collection
from oodaloo.domains.ar.errors import CustomerNotFound
from oodaloo.domains.ar.history import ZERO, OpenInvoice, Receivables, load_receivables
from oodaloo.domains.ar.schemas import (
    AgingBucketOut,
    BehaviourOut,
    CollectionItemOut,
    CollectionsOut,
    CustomerDetailOut,
    CustomerOut,
    ExpectedCollectionOut,
    InvoiceStatus,
    OpenInvoiceOut,
)
from oodaloo.domains.core.models import today_in

CENTS = Decimal("0.01")


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENTS))


@dataclass(frozen=True)
class _Loaded:
    receivables: Receivables
    behaviours: Behaviours
    open_invoices: list[OpenInvoice]


class ReceivablesService:
    """One business's receivables, read through the caller's session (reads only: nothing to commit)."""

    def __init__(self, session: AsyncSession, business_id: uuid.UUID, timezone: str) -> None:
        self._session = session
        self._business_id = business_id
        self.today = today_in(timezone)
        self._loaded: _Loaded | None = None

    async def open_invoices(
        self, status: InvoiceStatus = "open", bucket: AgingBucket | None = None, customer_id: str | None = None
    ) -> list[OpenInvoiceOut]:
        """The invoices with a balance today (``overdue``: only those past their due date), optionally of one aging
        bucket or one customer, oldest due first."""
        loaded = await self._load()
        if customer_id is not None and customer_id not in loaded.receivables.customers:
            raise CustomerNotFound(customer_id)
        chosen = [
            invoice
            for invoice in loaded.open_invoices
            if (status == "open" or invoice.overdue)
            and (bucket is None or aging_bucket(invoice.days_overdue) == bucket)
            and (customer_id is None or invoice.customer_id == customer_id)
        ]
        return [self._invoice_out(invoice, loaded.behaviours) for invoice in _oldest_due_first(chosen)]

    async def customers(self) -> list[CustomerOut]:
        """Every customer invoiced so far or active in QuickBooks, with its payment behaviour; those owing the most
        overdue first, then the most open, then by name."""
        loaded = await self._load()
        by_customer = _by_customer(loaded.open_invoices)
        invoiced = {invoice.customer_id for invoice in loaded.receivables.invoices}
        listed = [
            self._customer_out(customer_id, by_customer.get(customer_id, []), loaded)
            for customer_id, customer in loaded.receivables.customers.items()
            if customer.active or customer_id in invoiced
        ]
        return sorted(
            listed,
            key=lambda out: (
                -Decimal(out.overdue_balance),
                -Decimal(out.open_balance),
                out.name.casefold(),
                out.customer_id,
            ),
        )

    async def customer(self, customer_id: str) -> CustomerDetailOut:
        loaded = await self._load()
        if customer_id not in loaded.receivables.customers:
            raise CustomerNotFound(customer_id)
        owed = [invoice for invoice in loaded.open_invoices if invoice.customer_id == customer_id]
        summary = self._customer_out(customer_id, owed, loaded)
        invoices = [self._invoice_out(invoice, loaded.behaviours) for invoice in _oldest_due_first(owed)]
        return CustomerDetailOut(**summary.model_dump(), invoices=invoices)

    async def collections(self) -> CollectionsOut:
        """Overdue invoices ranked for chasing, each with its reason, and the aging of everything open."""
        loaded = await self._load()
        ranked = rank_for_collection(loaded.open_invoices, loaded.behaviours)
        return CollectionsOut(
            as_of=self.today,
            total_open=money(sum((invoice.balance for invoice in loaded.open_invoices), ZERO)),
            total_overdue=money(sum((invoice.balance for invoice in loaded.open_invoices if invoice.overdue), ZERO)),
            aging=[
                AgingBucketOut(bucket=total.bucket, count=total.count, balance=money(total.balance))
                for total in aging(loaded.open_invoices)
            ],
            invoices=[
                CollectionItemOut(
                    rank=rank,
                    score=money(item.score),
                    lateness_months=round(item.lateness, 2),
                    unreliability=round(item.unreliability, 2),
                    reason=item.reason,
                    invoice=self._invoice_out(item.invoice, loaded.behaviours),
                )
                for rank, item in enumerate(ranked, start=1)
            ],
        )

    # ----------------------------------------------------------------------------------------------- internals
    async def _load(self) -> _Loaded:
        if self._loaded is None:
            receivables = await load_receivables(self._session, self._business_id)
            behaviours = learn_behaviour(receivables, self.today)
            self._loaded = _Loaded(receivables, behaviours, receivables.open_as_of(self.today))
        return self._loaded

    def _invoice_out(self, invoice: OpenInvoice, behaviours: Behaviours) -> OpenInvoiceOut:
        expected = behaviours.expected_collection(invoice, self.today)
        return OpenInvoiceOut(
            invoice_id=invoice.invoice_id,
            doc_number=invoice.doc_number,
            customer_id=invoice.customer_id,
            customer_name=invoice.customer_name,
            txn_date=invoice.txn_date,
            due_date=invoice.due_date,
            total=money(invoice.total),
            balance=money(invoice.balance),
            days_overdue=invoice.days_overdue,
            aging_bucket=aging_bucket(invoice.days_overdue),
            expected_collection=ExpectedCollectionOut(
                expected=expected.expected, early=expected.early, late=expected.late, reason=expected.reason
            ),
        )

    def _customer_out(self, customer_id: str, owed: list[OpenInvoice], loaded: _Loaded) -> CustomerOut:
        customer = loaded.receivables.customers[customer_id]
        overdue = [invoice for invoice in owed if invoice.overdue]
        return CustomerOut(
            customer_id=customer_id,
            name=customer.name,
            active=customer.active,
            open_balance=money(sum((invoice.balance for invoice in owed), ZERO)),
            overdue_balance=money(sum((invoice.balance for invoice in overdue), ZERO)),
            open_invoices=len(owed),
            overdue_invoices=len(overdue),
            behaviour=_behaviour_out(loaded.behaviours.of(customer_id)),
        )


def _behaviour_out(behaviour: CustomerBehaviour) -> BehaviourOut:
    habit = behaviour.habit
    return BehaviourOut(
        paid_invoices=habit.paid_count,
        median_days_late=habit.median_days_late,
        p25_days_late=habit.p25_days_late,
        p75_days_late=habit.p75_days_late,
        share_paid_late=None if habit.share_paid_late is None else round(habit.share_paid_late, 2),
        recent_invoices=habit.recent_count,
        recent_late=habit.recent_late,
        recent_median_days_late=habit.recent_median_days_late,
        trend=habit.trend,
        history_weight=round(behaviour.own_weight, 2),
        summary=behaviour.summary,
    )


def _by_customer(invoices: list[OpenInvoice]) -> dict[str, list[OpenInvoice]]:
    grouped: dict[str, list[OpenInvoice]] = defaultdict(list)
    for invoice in invoices:
        grouped[invoice.customer_id].append(invoice)
    return grouped


def _oldest_due_first(invoices: list[OpenInvoice]) -> list[OpenInvoice]:
    """Ties in QuickBooks' order of creation (Ids are numeric strings)."""
    return sorted(invoices, key=lambda invoice: (invoice.due_date, invoice.invoice_id.zfill(20)))
