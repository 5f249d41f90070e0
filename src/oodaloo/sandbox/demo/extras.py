"""The demo's occasional documents: customer credits (some applied to open invoices), vendor credits, a few sales
receipts for workshops paid on the spot, and owner transfers between Savings and Checking.

They draw from their own random source, so adding them leaves the rest of the company (its invoices, payments,
bills and their timestamps) exactly as it was; the opening cash is calibrated after them, like everything else.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal

from .book import Body, Book
from .dates import business_day_not_after, month_starts, next_business_day
from .model import ZERO, Draft, between, money
from .sales import Invoice
from .settlements import apply_credit
from .setup import Lists

# Chances per month of the history.
CREDIT_MEMO_CHANCE = 0.3
VENDOR_CREDIT_CHANCE = 0.25
SALES_RECEIPT_CHANCE = 0.4
# A credit is a small share of the invoice it adjusts.
CREDIT_SHARE = (0.05, 0.15)
OWNER_TRANSFERS = 2
# Share of the Savings balance the owner moves into Checking (and back some weeks later).
TRANSFER_SHARE = (0.25, 0.5)
VENDOR_CREDIT_ROLES = ("contractor", "professional", "office")
VENDOR_CREDIT_ACCOUNTS = {"contractor": "Contractors", "professional": "Professional Fees", "office": "Office Supplies"}
WORKSHOP_HOURS = (3, 8)
CARD_METHODS = ("Visa", "MasterCard", "American Express")


class ExtrasWriter:
    def __init__(
        self,
        book: Book,
        lists: Lists,
        rng: random.Random,
        *,
        start: date,
        today: date,
        sales_numbers: Iterator[int],
        monthly_costs: Decimal,
    ) -> None:
        self.book = book
        self.lists = lists
        self.rng = rng
        self.start = start
        self.today = today
        self.numbers = sales_numbers
        self.costs = monthly_costs

    def write(self, invoices: list[Invoice], savings: Callable[[], Decimal]) -> None:
        months = list(month_starts(self.start, self.today))
        written = {"credit memo": 0, "vendor credit": 0, "sales receipt": 0}
        for month in months:
            if self.rng.random() < CREDIT_MEMO_CHANCE:
                written["credit memo"] += self._credit_memo(month, invoices)
            if self.rng.random() < VENDOR_CREDIT_CHANCE:
                written["vendor credit"] += self._vendor_credit(month)
            if self.rng.random() < SALES_RECEIPT_CHANCE:
                written["sales receipt"] += self._sales_receipt(month)
        # Every company has at least one of each (a short or unlucky history would otherwise lack one).
        last_full = months[-2] if len(months) > 1 else months[-1]
        if not written["credit memo"]:
            self._credit_memo(last_full, invoices)
        if not written["vendor credit"]:
            self._vendor_credit(last_full)
        if not written["sales receipt"]:
            self._sales_receipt(last_full)
        self._owner_transfers(savings)

    def _day_in(self, month: date) -> date:
        return business_day_not_after(month + timedelta(days=between(self.rng, 0, 27)), self.today)

    def _add(
        self,
        entity: str,
        on: date,
        build: Callable[[], Body],
        *,
        after: tuple[Draft, ...] = (),
        bank_delta: Decimal = ZERO,
    ) -> Draft:
        return self.book.add(entity, on, build, after=after, bank_delta=bank_delta, rng=self.rng)

    # -- customer credits -------------------------------------------------------------------------

    def _credit_memo(self, month: date, invoices: list[Invoice]) -> bool:
        candidates = [i for i in invoices if i.txn_date.replace(day=1) == month and i.txn_date >= self.start]
        if not candidates:
            return False
        invoice = candidates[between(self.rng, 0, len(candidates) - 1)]
        amount = money(invoice.total * Decimal(str(self.rng.uniform(*CREDIT_SHARE))))
        on = next_business_day(invoice.txn_date + timedelta(days=between(self.rng, 5, 20)))
        if on > self.today or amount <= 0:
            return False
        customer = invoice.customer
        consulting = self.lists.items["Consulting"]
        numbers = self.numbers

        def build() -> Body:
            line = {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "Description": "Billing adjustment",
                "SalesItemLineDetail": {"ItemRef": consulting.ref(), "Qty": Decimal(1), "UnitPrice": amount},
            }
            return {
                "CustomerRef": customer.draft.ref(),
                "TxnDate": on.isoformat(),
                "DocNumber": str(next(numbers)),
                "PrivateNote": "Goodwill credit agreed with the client",
                "Line": [line],
            }

        memo = self._add("CreditMemo", on, build, after=(invoice.draft,))
        # An invoice still open with room for the credit is settled against it (a zero payment, as QBO records it);
        # otherwise the credit waits on the client's account.
        if amount <= invoice.balance:
            apply_credit(self.book, self.lists, customer, invoice.draft, memo, amount, on, rng=self.rng)
            invoice.balance -= amount
        return True

    # -- vendor credits ---------------------------------------------------------------------------

    def _vendor_credit(self, month: date) -> bool:
        role = VENDOR_CREDIT_ROLES[between(self.rng, 0, len(VENDOR_CREDIT_ROLES) - 1)]
        vendors = self.lists.vendors_in(role)
        vendor = vendors[between(self.rng, 0, len(vendors) - 1)]
        on = self._day_in(month)
        if on < self.start:
            return False
        amount = money(self.costs * Decimal(str(self.rng.uniform(0.002, 0.006))))
        account = self.lists.accounts[VENDOR_CREDIT_ACCOUNTS[role]]
        reference = f"CR-{on:%y%m}{between(self.rng, 10, 99)}"

        def build() -> Body:
            return {
                "VendorRef": vendor.draft.ref(),
                "TxnDate": on.isoformat(),
                "DocNumber": reference,
                "PrivateNote": "Vendor credit for a billing error",
                "Line": [
                    {
                        "Amount": amount,
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "Description": "Credit for overbilled hours",
                        "AccountBasedExpenseLineDetail": {"AccountRef": account.ref(), "BillableStatus": "NotBillable"},
                    }
                ],
            }

        self._add("VendorCredit", on, build)
        return True

    # -- sales receipts ---------------------------------------------------------------------------

    def _sales_receipt(self, month: date) -> bool:
        on = self._day_in(month)
        active = [c for c in self.lists.customers if c.active_from <= on and (c.active_until or on) >= on]
        if on < self.start or not active:
            return False
        customer = active[between(self.rng, 0, len(active) - 1)]
        hours = Decimal(between(self.rng, *WORKSHOP_HOURS))
        workshop = self.lists.items["Strategy Workshop"]
        price = money(225)
        amount = money(hours * price)
        checking = self.lists.accounts["Checking"]
        method = self.lists.payment_methods[CARD_METHODS[between(self.rng, 0, len(CARD_METHODS) - 1)]]
        numbers = self.numbers

        def build() -> Body:
            line = {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "Description": "Strategy workshop, paid by card on the day",
                "SalesItemLineDetail": {"ItemRef": workshop.ref(), "Qty": hours, "UnitPrice": price},
            }
            return {
                "CustomerRef": customer.draft.ref(),
                "TxnDate": on.isoformat(),
                "DocNumber": str(next(numbers)),
                "DepositToAccountRef": checking.ref(),
                "PaymentMethodRef": method.ref(),
                "Line": [line],
            }

        self._add("SalesReceipt", on, build, bank_delta=amount)
        return True

    # -- owner transfers --------------------------------------------------------------------------

    def _owner_transfers(self, savings: Callable[[], Decimal]) -> None:
        """The owner tops Checking up from Savings before a heavy week and moves the money back later.

        Both sides are bank accounts, so cash in the bank is unchanged; Checking only ever gains in between, so the
        lowest Checking balance the calibration protects is never lowered.
        """
        span = (self.today - self.start).days
        if span < 120:
            return
        for _ in range(OWNER_TRANSFERS):
            out_on = business_day_not_after(self.start + timedelta(days=between(self.rng, 60, span - 60)), self.today)
            back_on = next_business_day(out_on + timedelta(days=between(self.rng, 20, 40)))
            share = Decimal(str(self.rng.uniform(*TRANSFER_SHARE)))
            amount: list[Decimal] = []

            def moved(share: Decimal = share, amount: list[Decimal] = amount) -> Decimal:
                if not amount:  # decided at build time: the opening savings are set last
                    amount.append(max(Decimal("1.00"), (savings() * share / 100).quantize(Decimal(1)) * 100))
                return amount[0]

            top_up = self._transfer(out_on, "Savings", "Checking", moved, "Owner transfer: top up Checking")
            if back_on <= self.today:
                self._transfer(back_on, "Checking", "Savings", moved, "Owner transfer: back to Savings", top_up)

    def _transfer(
        self, on: date, source: str, target: str, amount: Callable[[], Decimal], note: str, *after: Draft
    ) -> Draft:
        accounts = self.lists.accounts

        def build() -> Body:
            return {
                "FromAccountRef": accounts[source].ref(),
                "ToAccountRef": accounts[target].ref(),
                "Amount": money(amount()),
                "TxnDate": on.isoformat(),
                "PrivateNote": note,
            }

        return self._add("Transfer", on, build, after=after)
