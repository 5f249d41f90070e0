"""Invoices settled without cash: a credit for the disputed part of an invoice, or a bad-debt write-off. Each is a
CreditMemo applied to its invoice by a zero payment, as QBO records "receive payment" that uses a credit and no money.

A write-off follows Intuit's recipe: a "Bad Debts" expense account and a "Bad Debt" item posting to it, which the
firm sets up the day it first writes an invoice off.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from .book import Body, Book
from .model import ZERO, Draft
from .setup import CustomerPlan, Lists

if TYPE_CHECKING:
    from .sales import Invoice

BAD_DEBTS_ACCOUNT = ("Bad Debts", "Expense", "BadDebts")
BAD_DEBT_ITEM = "Bad Debt"
# The set-up happens early on the morning of the first write-off, before it is entered.
SET_UP_AT = time(8, 0)


class Settlements:
    """Writes dispute credits and write-offs against the sales forms' shared number sequence."""

    def __init__(self, book: Book, lists: Lists, numbers: Iterator[int]) -> None:
        self.book = book
        self.lists = lists
        self.numbers = numbers
        self._bad_debt: Draft | None = None

    def credit_disputed_part(self, invoice: Invoice, on: date, amount: Decimal) -> None:
        """The firm agrees to credit part of a disputed invoice; the client pays the rest (separately)."""
        consulting = self.lists.items["Consulting"]
        self._credit(
            invoice,
            on,
            amount,
            item=consulting,
            description=lambda: f"Credit for disputed hours on invoice {invoice.number}",
            note="Dispute settled: partial credit agreed with the client",
        )

    def write_off(self, invoice: Invoice, on: date, amount: Decimal) -> None:
        """What is left of an invoice the client will never pay, written off to Bad Debts."""
        self._credit(
            invoice,
            on,
            amount,
            item=self._bad_debt_item(on),
            description=lambda: f"Bad debt write-off, invoice {invoice.number}",
            note="Uncollectible after repeated reminders: written off",
        )

    def _credit(
        self,
        invoice: Invoice,
        on: date,
        amount: Decimal,
        *,
        item: Draft,
        description: Callable[[], str],
        note: str,
    ) -> None:
        customer = invoice.customer
        numbers = self.numbers

        def build() -> Body:
            line = {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "Description": description(),
                "SalesItemLineDetail": {"ItemRef": item.ref(), "Qty": Decimal(1), "UnitPrice": amount},
            }
            return {
                "CustomerRef": customer.draft.ref(),
                "TxnDate": on.isoformat(),
                "DocNumber": str(next(numbers)),
                "PrivateNote": note,
                "Line": [line],
            }

        memo = self.book.add("CreditMemo", on, build, after=(invoice.draft, item))
        apply_credit(self.book, self.lists, customer, invoice.draft, memo, amount, on)
        invoice.balance -= amount

    def _bad_debt_item(self, on: date) -> Draft:
        if self._bad_debt is None:
            at = datetime.combine(on, SET_UP_AT, tzinfo=self.book.zone)
            name, kind, sub_type = BAD_DEBTS_ACCOUNT
            account_body: Body = {"Name": name, "AccountType": kind, "AccountSubType": sub_type}
            account = self.book.add_at("Account", at, lambda: dict(account_body))

            def item() -> Body:
                return {
                    "Name": BAD_DEBT_ITEM,
                    "Type": "NonInventory",
                    "Description": "Uncollectible invoice written off",
                    "UnitPrice": ZERO,
                    "IncomeAccountRef": account.ref(),
                }

            self._bad_debt = self.book.add_at("Item", at + timedelta(seconds=40), item)
            self.lists.accounts[name] = account
            self.lists.items[BAD_DEBT_ITEM] = self._bad_debt
        return self._bad_debt


def apply_credit(
    book: Book,
    lists: Lists,
    customer: CustomerPlan,
    invoice: Draft,
    memo: Draft,
    amount: Decimal,
    on: date,
    *,
    rng: random.Random | None = None,
) -> Draft:
    """A zero payment that uses ``amount`` of ``memo`` to settle as much of ``invoice``."""
    undeposited = lists.accounts["Undeposited Funds"]

    def build() -> Body:
        return {
            "CustomerRef": customer.draft.ref(),
            "TotalAmt": ZERO,
            "TxnDate": on.isoformat(),
            "DepositToAccountRef": undeposited.ref(),
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": invoice.id, "TxnType": "Invoice"}]},
                {"Amount": amount, "LinkedTxn": [{"TxnId": memo.id, "TxnType": "CreditMemo"}]},
            ],
        }

    return book.add("Payment", on, build, after=(invoice, memo), rng=rng)
