"""Reads a demo company's receivables back from its create requests, as a bookkeeper would from QBO: each invoice
with the payments and credits that settled it, and each customer's days late, for the payer-realism tests."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from oodaloo.sandbox.demo import DemoCompany


@dataclass(frozen=True)
class Settlement:
    payment_id: str
    day: date
    amount: Decimal
    credit_memo: dict[str, Any] | None  # the credit used, for a settlement without cash


@dataclass
class InvoiceHistory:
    body: dict[str, Any]
    total: Decimal
    settlements: list[Settlement] = field(default_factory=list)

    @property
    def customer(self) -> str:
        return str(self.body["CustomerRef"]["value"])

    @property
    def txn_date(self) -> date:
        return date.fromisoformat(self.body["TxnDate"])

    @property
    def due(self) -> date:
        return date.fromisoformat(self.body["DueDate"])

    @property
    def cash(self) -> list[Settlement]:
        return [s for s in self.settlements if s.credit_memo is None]

    @property
    def credits(self) -> list[Settlement]:
        return [s for s in self.settlements if s.credit_memo is not None]

    @property
    def settled(self) -> Decimal:
        return sum((s.amount for s in self.settlements), Decimal(0))

    def paid_at_once(self) -> date | None:
        """The day of the one payment that paid the whole invoice in cash, if it was paid so."""
        if len(self.settlements) == 1 and not self.credits and self.settlements[0].amount == self.total:
            return self.settlements[0].day
        return None


def bodies(company: DemoCompany, entity: str) -> list[dict[str, Any]]:
    return [op.body for op in company.ops if op.entity == entity]


def receivables(company: DemoCompany) -> dict[str, InvoiceHistory]:
    """Every invoice by Id with what settled it (a payment's invoice lines; credits it used settle its invoices)."""
    memos = {body["Id"]: body for body in bodies(company, "CreditMemo")}
    invoices = {
        body["Id"]: InvoiceHistory(body, sum((line["Amount"] for line in body["Line"]), Decimal(0)))
        for body in bodies(company, "Invoice")
    }
    for payment in bodies(company, "Payment"):
        lines = payment.get("Line", [])
        used = [
            memos[line["LinkedTxn"][0]["TxnId"]] for line in lines if line["LinkedTxn"][0]["TxnType"] == "CreditMemo"
        ]
        day = date.fromisoformat(payment["TxnDate"])
        for line in lines:
            link = line["LinkedTxn"][0]
            if link["TxnType"] == "Invoice":
                memo = used[0] if used else None
                invoices[link["TxnId"]].settlements.append(Settlement(payment["Id"], day, line["Amount"], memo))
    return invoices


def delays_by_customer(invoices: dict[str, InvoiceHistory]) -> dict[str, list[tuple[date, int]]]:
    """(due date, days from due date to payment) of each invoice paid in full at once, per customer, by due date."""
    delays: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for invoice in sorted(invoices.values(), key=lambda invoice: invoice.due):
        paid_on = invoice.paid_at_once()
        if paid_on is not None:
            delays[invoice.customer].append((invoice.due, (paid_on - invoice.due).days))
    return delays


def median_delays(delays: dict[str, list[tuple[date, int]]], *, at_least: int) -> dict[str, float]:
    return {
        customer: statistics.median(days for _, days in history)
        for customer, history in delays.items()
        if len(history) >= at_least
    }


def mad(values: list[int] | list[float]) -> float:
    """Median absolute deviation from the median: the spread that ignores a few extreme values."""
    middle = statistics.median(values)
    return statistics.median(abs(value - middle) for value in values)


def quantile(values: list[float] | list[int], share: float) -> float:
    ordered = sorted(values)
    return float(ordered[round(share * (len(ordered) - 1))])
