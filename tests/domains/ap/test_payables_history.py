"""A business's payables loaded from its mirror and answered as of any day: a bill is open on a day for its total less
the payments dated on or before it, and is not there before its own date; voided and deleted transactions count for
nothing; vendor credits applied through a payment settle the bill like cash; a fall in QuickBooks' balance that no
payment explains is not lost. The objects are stored through the mirror's own repository, as a sync stores them."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.history import Payables, load_open_bills, load_payables
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import Raw
from oodaloo.domains.qbo.mirror_repository import MirrorRepository
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work

T = TypeVar("T")
START = date(2026, 1, 1)
CENT = Decimal("0.01")
_ids = itertools.count(1000)


def next_id() -> str:
    return str(next(_ids))


# -- QBO objects as the API sends them ------------------------------------------------------------------------------


def bill(
    total: str,
    on: date,
    *,
    balance: str | None = None,
    vendor: str = "56",
    due: date | None = None,
    lines: list[Raw] | None = None,
    updated: str = "2026-01-05T09:00:00-08:00",
    **fields: Any,
) -> Raw:
    return {
        "Id": next_id(),
        "SyncToken": "0",
        "MetaData": {"CreateTime": "2026-01-01T09:00:00-08:00", "LastUpdatedTime": updated},
        "VendorRef": {"value": vendor, "name": "Northwind Paper Co"},
        "TxnDate": on.isoformat(),
        "DueDate": (due or on + timedelta(days=30)).isoformat(),
        "TotalAmt": Decimal(total),
        "Balance": Decimal(balance if balance is not None else total),
        "Line": lines if lines is not None else [account_line(total, "7")],
        **fields,
    }


def account_line(amount: str, account_id: str) -> Raw:
    return {
        "Amount": Decimal(amount),
        "DetailType": "AccountBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account_id}},
    }


def payment(on: date, *paid: tuple[str, str], credits: tuple[tuple[str, str], ...] = (), vendor: str = "56") -> Raw:
    """A BillPayment dated ``on`` paying (bill id, amount) pairs, using (vendor credit id, amount) pairs."""
    lines = [
        {"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]} for bill_id, amount in paid
    ]
    lines += [
        {"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": credit_id, "TxnType": "VendorCredit"}]}
        for credit_id, amount in credits
    ]
    total = sum((Decimal(amount) for _, amount in paid), Decimal(0)) - sum(
        (Decimal(amount) for _, amount in credits), Decimal(0)
    )
    return {
        "Id": next_id(),
        "SyncToken": "0",
        "VendorRef": {"value": vendor},
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": "35"}},
        "TxnDate": on.isoformat(),
        "TotalAmt": total,
        "Line": lines,
    }


def voided(obj: Raw) -> Raw:
    """As QBO keeps a voided payment: amounts zeroed, lines cleared, "Voided" noted, a new SyncToken."""
    return {**obj, "SyncToken": "1", "TotalAmt": Decimal(0), "Line": [], "PrivateNote": "Voided"}


def deleted(obj: Raw) -> Raw:
    return {"Id": obj["Id"], "status": "Deleted", "domain": "QBO"}


def vendor_credit(total: str, on: date, vendor: str = "56") -> Raw:
    return {
        "Id": next_id(),
        "SyncToken": "0",
        "VendorRef": {"value": vendor},
        "TxnDate": on.isoformat(),
        "TotalAmt": Decimal(total),
        "Balance": Decimal(total),
        "Line": [account_line(total, "7")],
    }


# -- a business's mirror in the test database -----------------------------------------------------------------------


@dataclass
class Books:
    """QBO objects to store, by entity type, in the order given (a later version of an object replaces it)."""

    objects: dict[str, list[Raw]] = field(default_factory=dict)

    def add(self, entity: str, *raws: Raw) -> Books:
        self.objects.setdefault(entity, []).extend(raws)
        return self


def with_mirror(database_url: str, books: Books, read: Callable[[AsyncSession, uuid.UUID], Awaitable[T]]) -> T:
    """Store ``books`` as a new business's mirror (and, to prove tenancy, the same objects for another business), then
    ``read`` it in a new unit of work."""

    async def go() -> T:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                ours, theirs = (
                    Business(name="Payables", timezone="America/Los_Angeles"),
                    Business(name="Other", timezone="UTC"),
                )
                session.add_all([ours, theirs])
                await session.flush()
                for business in (ours, theirs):
                    for entity, raws in books.objects.items():
                        for raw in raws:  # one by one: later versions of an object replace earlier ones
                            await MirrorRepository.of(session, business.id, entity).store([raw])
                business_id = ours.id
            async with unit_of_work(database.sessionmaker) as session:
                return await read(session, business_id)
        finally:
            await database.dispose()

    return asyncio.run(go())


def payables_of(database_url: str, books: Books) -> Payables:
    return with_mirror(database_url, books, load_payables)


def balances(payables: Payables, day: date) -> dict[str, Decimal]:
    return {bill.bill_id: bill.balance for bill in payables.open_as_of(day)}


# -- as of a day ----------------------------------------------------------------------------------------------------


def test_a_bill_is_open_from_its_date_for_its_total_less_the_payments_dated_by_then(database_url: str) -> None:
    partly = bill("300.00", date(2026, 3, 1), balance="0.00")
    first, second = (
        payment(date(2026, 3, 10), (partly["Id"], "120.00")),
        payment(date(2026, 3, 20), (partly["Id"], "180.00")),
    )
    payables = payables_of(database_url, Books().add("Bill", partly).add("BillPayment", second, first))

    assert balances(payables, date(2026, 2, 28)) == {}  # not yet written
    assert balances(payables, date(2026, 3, 1)) == {partly["Id"]: Decimal("300.00")}
    assert balances(payables, date(2026, 3, 9)) == {partly["Id"]: Decimal("300.00")}
    assert balances(payables, date(2026, 3, 10)) == {partly["Id"]: Decimal("180.00")}
    assert balances(payables, date(2026, 3, 20)) == {}  # paid in full that day
    assert payables.open_now() == []  # QuickBooks' own balance: paid
    settled = payables.settlements_between(date(2026, 3, 1), date(2026, 3, 31))
    assert [(item.payment_id, item.day, item.amount) for item in settled] == [
        (first["Id"], date(2026, 3, 10), Decimal("120.00")),
        (second["Id"], date(2026, 3, 20), Decimal("180.00")),
    ]
    assert payables.settlements_between(date(2026, 3, 11), date(2026, 3, 19)) == []


def test_voided_and_deleted_transactions_count_for_nothing(database_url: str) -> None:
    kept = bill("100.00", date(2026, 3, 1))
    gone = bill("999.00", date(2026, 3, 1))
    cancelled = payment(date(2026, 3, 5), (kept["Id"], "100.00"))
    removed = payment(date(2026, 3, 6), (kept["Id"], "40.00"))
    books = (
        Books()
        .add("Bill", kept, gone, deleted(gone))
        .add("BillPayment", cancelled, voided(cancelled), removed, deleted(removed))
    )
    payables = payables_of(database_url, books)

    assert balances(payables, date(2026, 3, 31)) == {kept["Id"]: Decimal("100.00")}
    assert [bill.bill_id for bill in payables.open_now()] == [kept["Id"]]
    assert payables.settlements_between(START, date(2026, 12, 31)) == []


def test_a_vendor_credit_applied_through_a_payment_settles_the_bill_on_the_payment_s_date(database_url: str) -> None:
    owed = bill("100.00", date(2026, 3, 1), balance="0.00")
    credit = {**vendor_credit("40.00", date(2026, 3, 3)), "Balance": Decimal("0.00")}
    settled = payment(date(2026, 3, 12), (owed["Id"], "100.00"), credits=((credit["Id"], "40.00"),))
    payables = payables_of(
        database_url, Books().add("Bill", owed).add("VendorCredit", credit).add("BillPayment", settled)
    )

    assert balances(payables, date(2026, 3, 11)) == {owed["Id"]: Decimal("100.00")}
    assert balances(payables, date(2026, 3, 12)) == {}
    (settlement,) = payables.settlements_between(START, date(2026, 12, 31))
    assert (settlement.amount, settlement.with_credit) == (Decimal("100.00"), True)
    # The credit was there to use from its own date until the payment used it.
    assert payables.credit_as_of(date(2026, 3, 2)) == {}
    assert payables.credit_as_of(date(2026, 3, 3)) == {"56": Decimal("40.00")}
    assert payables.credit_as_of(date(2026, 3, 12)) == {}


def test_a_fall_in_balance_no_payment_explains_is_dated_by_the_bill_s_last_change(database_url: str) -> None:
    # Balance 50 of 200 and no payment in the mirror: 150 was settled by something it does not show, last changed
    # on 10 March at 23:30 in Los Angeles (the business's zone), which is already 11 March in UTC.
    odd = bill("200.00", date(2026, 3, 1), balance="50.00", updated="2026-03-10T23:30:00-07:00")
    payables = payables_of(database_url, Books().add("Bill", odd))

    assert balances(payables, date(2026, 3, 9)) == {odd["Id"]: Decimal("200.00")}
    assert balances(payables, date(2026, 3, 10)) == {odd["Id"]: Decimal("50.00")}
    assert [bill.balance for bill in payables.open_now()] == [Decimal("50.00")]
    (settlement,) = payables.settlements_between(START, date(2026, 12, 31))
    assert (settlement.payment_id, settlement.day, settlement.amount) == (None, date(2026, 3, 10), Decimal("150.00"))


def test_an_open_bill_carries_its_vendor_accounts_and_term_as_the_lists_name_them_now(database_url: str) -> None:
    vendor = {"Id": "56", "SyncToken": "3", "DisplayName": "Northwind Paper Company", "Active": True}
    supplies = {"Id": "7", "Name": "Office Supplies", "AccountType": "Expense", "AccountSubType": "SuppliesMaterials"}
    wages = {
        "Id": "8",
        "Name": "Wages",
        "FullyQualifiedName": "Payroll Expenses:Wages",
        "AccountType": "Expense",
        "AccountSubType": "PayrollExpenses",
    }
    item = {"Id": "3", "Name": "Paper", "Type": "NonInventory", "ExpenseAccountRef": {"value": "8"}}
    term = {"Id": "4", "Name": "Net 45", "DueDays": 45}
    item_line = {
        "Amount": Decimal("20.00"),
        "DetailType": "ItemBasedExpenseLineDetail",
        "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "3"}},
    }
    lines = [account_line("80.00", "7"), item_line, account_line("5.00", "7")]
    written = bill("105.00", date(2026, 3, 1), lines=lines, SalesTermRef={"value": "4"}, DocNumber="NW-7")
    books = (
        Books()
        .add("Vendor", vendor)
        .add("Account", supplies, wages)
        .add("Item", item)
        .add("Term", term)
        .add("Bill", written)
    )
    (opened,) = with_mirror(database_url, books, load_open_bills)

    assert (opened.bill_id, opened.doc_number, opened.vendor_id) == (written["Id"], "NW-7", "56")
    assert opened.vendor_name == "Northwind Paper Company"  # renamed since the bill was written
    assert [(account.name, account.account_sub_type) for account in opened.expense_accounts] == [
        ("Office Supplies", "SuppliesMaterials"),
        ("Payroll Expenses:Wages", "PayrollExpenses"),
    ]
    assert opened.term is not None
    assert (opened.term.name, opened.term.due_days) == ("Net 45", 45)
    assert (opened.total, opened.balance, opened.due_date) == (Decimal("105.00"), Decimal("105.00"), date(2026, 3, 31))


def test_loading_runs_the_same_few_queries_whatever_the_number_of_bills(database_url: str) -> None:
    """No query per bill or payment: 3 bills and 300 cost the same number of statements."""

    def statements(count: int) -> int:
        books = Books()
        for index in range(count):
            written = bill("10.00", START + timedelta(days=index % 50))
            books.add("Bill", written).add("BillPayment", payment(START + timedelta(days=60), (written["Id"], "4.00")))
        counted: list[str] = []

        async def load(session: AsyncSession, business_id: uuid.UUID) -> int:
            engine = session.get_bind()
            event.listen(engine, "before_cursor_execute", lambda *args: counted.append(args[2]))
            payables = await load_payables(session, business_id)
            await load_open_bills(session, business_id)
            assert len(payables.open_as_of(START + timedelta(days=59))) == count
            return len(counted)

        return with_mirror(database_url, books, load)

    assert statements(3) == statements(300)


# -- the property: balances as of a day are totals less payments dated on or before it ------------------------------


@dataclass(frozen=True)
class PaymentPlan:
    day: int
    bill: int
    cents: int
    removed: str | None  # "voided", "deleted" or None


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[PaymentPlan], list[int]]:
    bills = draw(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 50_000)), min_size=1, max_size=5))
    plans = draw(
        st.lists(
            st.builds(
                PaymentPlan,
                day=st.integers(0, 80),
                bill=st.integers(0, len(bills) - 1),
                cents=st.integers(1, 50_000),
                removed=st.sampled_from((None, None, None, "voided", "deleted")),
            ),
            max_size=8,
        )
    )
    days = draw(st.lists(st.integers(-3, 90), min_size=1, max_size=6))
    return bills, plans, days


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories())
def test_balances_as_of_any_day_are_totals_less_payments_dated_on_or_before_it(
    database_url: str, history: tuple[list[tuple[int, int]], list[PaymentPlan], list[int]]
) -> None:
    bill_specs, plans, days = history
    totals = [Decimal(cents) * CENT for _, cents in bill_specs]
    paid_so_far = [Decimal(0)] * len(totals)
    live_payments: list[tuple[int, int, Decimal]] = []  # (day, bill index, amount)
    bills = [
        bill(str(total), START + timedelta(days=offset)) for (offset, _), total in zip(bill_specs, totals, strict=True)
    ]
    payments: list[Raw] = []
    for plan in plans:
        # QBO refuses a payment over the bill's balance, and pays on or after the bill's date.
        amount = min(Decimal(plan.cents) * CENT, totals[plan.bill] - paid_so_far[plan.bill])
        if amount <= 0:
            continue
        on = START + timedelta(days=max(plan.day, bill_specs[plan.bill][0]))
        written = payment(on, (bills[plan.bill]["Id"], str(amount)))
        payments.append(written)
        if plan.removed == "voided":
            payments.append(voided(written))
        elif plan.removed == "deleted":
            payments.append(deleted(written))
        else:
            paid_so_far[plan.bill] += amount
            live_payments.append(((on - START).days, plan.bill, amount))
    # QuickBooks' Balance: what the live payments left.
    for index, raw in enumerate(bills):
        raw["Balance"] = totals[index] - paid_so_far[index]

    payables = payables_of(database_url, Books().add("Bill", *bills).add("BillPayment", *payments))

    for offset in days:
        day = START + timedelta(days=offset)
        expected = {}
        for index, (bill_offset, _) in enumerate(bill_specs):
            if bill_offset > offset:
                continue  # written after the day: not known then
            paid = sum((amount for on, which, amount in live_payments if which == index and on <= offset), Decimal(0))
            if totals[index] - paid > 0:
                expected[bills[index]["Id"]] = totals[index] - paid
        assert balances(payables, day) == expected, day
    assert {bill.bill_id: bill.balance for bill in payables.open_now()} == {
        raw["Id"]: raw["Balance"] for raw in bills if raw["Balance"] > 0
    }
