"""The backtest on each demo company synced from the sandbox, through ``oodaloo backtest``: our forecast's errors are
lower than the naive one's on both figures; a forecast replayed as of a past day is the one its books gave then
(nothing dated after it counts), while what happened after it is what the forecast is measured against; and books too
short to replay are refused saying why."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from typer.testing import CliRunner, Result

from oodaloo.cli import app
from oodaloo.domains.ap.history import PayableBill, Payables, Vendor
from oodaloo.domains.ap.history import Settlement as ApSettlement
from oodaloo.domains.ap.recurring import Category, SeriesKey, Spend, SpendingHistory
from oodaloo.domains.ar.history import Invoice, Receivables
from oodaloo.domains.ar.history import Settlement as ArSettlement
from oodaloo.domains.core.cash import AccountKind, CashAccount, CashLedger, CashMovement
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import SyncOutcome
from oodaloo.infra.db.engine import Database
from oodaloo.runway.core.backtest import (
    HorizonOutOfRange,
    NotEnoughHistory,
    backtest,
    first_day,
    replay,
    replay_days,
)
from oodaloo.runway.core.forecast import ZERO
from oodaloo.runway.core.runway_calculator import NO_DECISIONS, NO_EARMARKS, Books, load_books
from oodaloo.sandbox.config import SandboxConfig
from tests.domains.ar.mirror import execute, synced
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.support.clock import Instant, at

INSTANT = Instant("America/Los_Angeles", time(9, 0))  # the zone of the businesses mirror_support makes
TODAY = INSTANT.day
HORIZON_WEEKS = 4
RENT = Decimal("2500.00")
runner = CliRunner()


@pytest.fixture(scope="module")
def frozen_clock() -> Iterator[Instant]:
    with at(INSTANT) as instant:
        yield instant


@pytest.fixture(scope="module")
def sandbox_config(frozen_clock: Instant) -> SandboxConfig:
    return make_config()


@dataclass(frozen=True)
class Company:
    harness: Harness
    database_url: str

    @property
    def business_id(self) -> uuid.UUID:
        return self.harness.business_id

    def books(self) -> Books:
        async def go() -> Books:
            database = Database(self.database_url)
            try:
                async with database.session() as session:
                    business = await session.get(Business, self.business_id)
                    assert business is not None
                    return await load_books(session, business)
            finally:
                await database.dispose()

        return asyncio.run(go())

    def backtest(self, *options: str) -> Result:
        return runner.invoke(
            app, ["backtest", str(self.business_id), *options], env={"OODALOO_DATABASE_URL": self.database_url}
        )

    def backtest_json(self, *options: str) -> dict[str, Any]:
        result = self.backtest("--json", *options)
        assert result.exit_code == 0, result.output
        body: dict[str, Any] = json.loads(result.output)
        return body


def company_of(database_url: str, realm: Realm) -> Company:
    """A business with ``realm`` synced into its mirror and recorded as its connection (as connecting would)."""
    harness = synced(database_url, realm)
    execute(
        database_url, update(Business).where(Business.id == harness.business_id).values(qbo_realm_id=realm.realm_id)
    )
    return Company(harness, database_url)


@pytest.fixture(scope="module")
def demo(sandbox: RunningSandbox, database_url: str) -> Callable[[str], Company]:
    """Each scenario's demo company, created and synced the first time a test asks for it."""
    made: dict[str, Company] = {}

    def of(scenario: str) -> Company:
        if scenario not in made:
            made[scenario] = company_of(database_url, Realm.create(sandbox.base_url, scenario=scenario))
        return made[scenario]

    return of


def money(value: str) -> Decimal:
    return Decimal(value)


# ------------------------------------------------------------------------------------- acceptance 6: ours wins
@pytest.mark.parametrize("scenario", ["healthy", "tight", "crisis"])
def test_our_forecast_beats_due_dates_on_both_figures_on_each_demo_company(
    demo: Callable[[str], Company], scenario: str
) -> None:
    body = demo(scenario).backtest_json()

    ours, naive = body["ours"], body["naive"]
    assert money(ours["collections_wape"]) < money(naive["collections_wape"]), body
    assert money(ours["cash_mae"]) < money(naive["cash_mae"]), body
    assert body["horizon_weeks"] == HORIZON_WEEKS
    assert 1 <= body["as_of_weeks"] <= 52
    # The latest week replayed is the last whose four forecast weeks have all ended (by yesterday).
    assert date.fromisoformat(body["last_as_of"]) == TODAY - timedelta(weeks=HORIZON_WEEKS)
    first = date.fromisoformat(body["first_as_of"])
    assert (date.fromisoformat(body["last_as_of"]) - first).days == 7 * (body["as_of_weeks"] - 1)
    assert money(body["collected"]) > 0
    assert body["currency"] == "USD"
    # Money and ratios are decimal strings, as everywhere in the API.
    assert all(isinstance(value, str) for errors in (ours, naive) for value in errors.values())


def test_the_command_prints_both_forecasts_errors_side_by_side(demo: Callable[[str], Company]) -> None:
    company = demo("tight")
    body = company.backtest_json("--horizon-weeks", "2")

    printed = company.backtest("--horizon-weeks", "2")

    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert f"{body['as_of_weeks']} weeks replayed" in lines[0]
    assert "compared over 2 weeks" in lines[0]
    assert lines[1].split() == ["ours", "naive", "ours/naive"]
    wape = lines[2].split()
    assert wape[:2] == ["Collections", "WAPE"]
    ours_wape, naive_wape = (money(body[which]["collections_wape"]) * 100 for which in ("ours", "naive"))
    assert wape[2:4] == [f"{ours_wape:.1f}%", f"{naive_wape:.1f}%"]
    assert Decimal(wape[4]) < 1  # ours as a share of naive's
    cash = lines[3].split()
    assert cash[:3] == ["Cash", "MAE", "(USD)"]
    assert cash[3:5] == [f"{money(body['ours']['cash_mae']):,.2f}", f"{money(body['naive']['cash_mae']):,.2f}"]
    assert "Naive: each on its due date" in printed.output
    assert "backtest" in runner.invoke(app, ["--help"]).output


def test_the_command_refuses_what_it_cannot_replay_saying_why(
    sandbox: RunningSandbox, database_url: str, demo: Callable[[str], Company]
) -> None:
    company = demo("healthy")
    unknown = uuid.uuid4()
    for arguments, code, expected in (
        (["nope"], 2, "is not a business id"),
        ([str(unknown)], 2, f"No business has the id {unknown}"),
        ([str(company.business_id), "--horizon-weeks", "14"], 2, "--horizon-weeks"),
    ):
        refused = runner.invoke(app, ["backtest", *arguments], env={"OODALOO_DATABASE_URL": database_url})
        assert refused.exit_code == code, refused.output
        assert expected in refused.output
        assert "Traceback" not in refused.output

    empty = company_of(database_url, Realm.create(sandbox.base_url, scenario="empty")).backtest()
    assert empty.exit_code == 1, empty.output
    assert "needs at least 8 weeks of history" in empty.output
    assert "no dated transactions yet" in empty.output

    never_synced = Harness.connect(database_url, Realm.create(sandbox.base_url, scenario="healthy"))
    not_yet = Company(never_synced, database_url).backtest()
    assert not_yet.exit_code == 1, not_yet.output
    assert "has not been copied yet" in not_yet.output


# -------------------------------------------------------------------------------------------- as of the day
def books_until(books: Books, day: date) -> Books:
    """The books as they stood at the end of ``day``: every transaction dated after it taken out, and today's balances
    taken back to that day (what a mirror synced that evening would have held)."""
    receivables = books.receivables
    invoices = [
        replace(invoice, settlements=tuple(item for item in invoice.settlements if item.day <= day))
        for invoice in receivables.invoices
        if invoice.txn_date <= day
    ]
    payables = books.payables
    bills = [
        replace(
            bill,
            settlements=tuple(item for item in bill.settlements if item.day <= day),
            current_balance=bill.balance_as_of(day),
        )
        for bill in payables.bills
        if bill.txn_date is None or bill.txn_date <= day
    ]
    credits = [
        replace(credit, applied=tuple((on, amount) for on, amount in credit.applied if on <= day))
        for credit in payables.credits
        if credit.txn_date is None or credit.txn_date <= day
    ]
    ledger = books.ledger
    banks = {account.account_id for account in ledger.bank_accounts}
    accounts = [
        replace(account, balance=ledger.bank_balance_as_of(account.account_id, day))
        if account.account_id in banks
        else account
        for account in ledger.accounts
    ]
    spending = books.spending
    return replace(
        books,
        receivables=Receivables(invoices, receivables.customers.values()),
        payables=Payables(bills, payables.vendors, credits),
        ledger=CashLedger(accounts, (movement for movement in ledger.movements if movement.day <= day)),
        spending=SpendingHistory(
            spending.spends_as_of(day), spending.bill_payments_as_of(day), cards=spending.card_names
        ),
    )


@pytest.fixture(scope="module")
def crisis_books(demo: Callable[[str], Company]) -> Books:
    return demo("crisis").books()


@settings(max_examples=12, deadline=None)
@given(weeks_back=st.integers(min_value=HORIZON_WEEKS, max_value=60), weekday=st.integers(min_value=0, max_value=6))
def test_a_replayed_forecast_is_the_one_its_books_gave_that_day(
    crisis_books: Books, weeks_back: int, weekday: int
) -> None:
    books = crisis_books
    day = TODAY - timedelta(weeks=weeks_back, days=weekday)
    then = books_until(books, day)
    assert len(then.receivables) < len(books.receivables)  # there is something after the day to leave out

    assert replay(then, day) == replay(books, day)


def test_what_is_dated_after_a_replayed_day_changes_its_outcome_not_its_forecast(
    sandbox: RunningSandbox, database_url: str
) -> None:
    realm = Realm.create(sandbox.base_url, scenario="healthy")
    company = company_of(database_url, realm)
    books = company.books()
    days = replay_days(books, TODAY)
    before = {day: replay(books, day) for day in days}
    result = backtest(books, TODAY)
    latest = days[-1]
    # An invoice open on the latest replayed day and still owed now, paid yesterday (in that day's 4th forecast week)
    # straight into the bank; and a new bill, dated yesterday too.
    open_now = {invoice.invoice_id for invoice in books.receivables.open_as_of(TODAY)}
    invoice = next(invoice for invoice in books.receivables.open_as_of(latest) if invoice.invoice_id in open_now)
    owed = books.receivables.by_id[invoice.invoice_id].balance_as_of(TODAY)
    bank = next(account for account in books.ledger.bank_accounts if account.active)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    vendor = next(iter(books.payables.vendors))
    expense = next(row for row in realm.objects("Account").values() if row["AccountType"] == "Expense")
    for entity, body in (
        (
            "payment",
            {
                "CustomerRef": {"value": invoice.customer_id},
                "TxnDate": yesterday,
                "TotalAmt": str(owed),
                "DepositToAccountRef": {"value": bank.account_id},
                "Line": [{"Amount": str(owed), "LinkedTxn": [{"TxnId": invoice.invoice_id, "TxnType": "Invoice"}]}],
            },
        ),
        (
            "bill",
            {
                "VendorRef": {"value": vendor},
                "TxnDate": yesterday,
                "Line": [
                    {
                        "Amount": "1234.56",
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}},
                    }
                ],
            },
        ),
    ):
        answer = realm.post(f"/{entity}", body)
        assert answer.status_code == 200, answer.text
    report = company.harness.run(lambda mirror: mirror.incremental(company.business_id))
    assert report.outcome is SyncOutcome.SUCCEEDED

    after = company.books()

    assert after.ledger.cash_as_of(TODAY) == books.ledger.cash_as_of(TODAY) + owed  # the payment is in the books
    assert {day: replay(after, day) for day in days} == before
    remeasured = backtest(after, TODAY)
    assert remeasured.collected == result.collected + owed  # only the latest day's 4th week saw it come in
    assert remeasured.ours.cash_mae != result.ours.cash_mae


# ------------------------------------------------------------------------------------------------ any books
@st.composite
def random_books(draw: st.DrawFn) -> Books:
    """Small books of any shape: invoices paid in parts, late, early, by credit or never; bills paid or not; bank
    movements; a payee paid every month or so. Dates around TODAY, some after it (dated ahead)."""
    days = st.integers(min_value=-300, max_value=20).map(lambda offset: TODAY + timedelta(days=offset))
    cents = st.integers(min_value=1, max_value=5_000_000).map(lambda amount: Decimal(amount) / 100)
    invoices = []
    for number in range(draw(st.integers(0, 25))):
        invoice_id, customer = str(number + 1), f"c{draw(st.integers(1, 4))}"
        issued = draw(days)
        total = draw(cents)
        paid = sorted(draw(st.lists(st.tuples(st.integers(0, 120), cents, st.booleans()), max_size=3)))
        settlements = tuple(
            ArSettlement(invoice_id, customer, issued + timedelta(days=after), amount, amount if credit else ZERO)
            for after, amount, credit in paid
        )
        due = issued + timedelta(days=draw(st.sampled_from((0, 15, 30, 60))))
        invoices.append(Invoice(invoice_id, None, customer, customer.upper(), issued, due, total, settlements))
    bills = []
    for number in range(draw(st.integers(0, 15))):
        bill_id, issued, total = f"b{number}", draw(days), draw(cents)
        settled = sorted(draw(st.lists(st.tuples(st.integers(0, 90), cents), max_size=2)))  # oldest first, as loaded
        payments = tuple(ApSettlement(bill_id, None, issued + timedelta(days=after), amt) for after, amt in settled)
        due = issued + timedelta(days=draw(st.sampled_from((0, 30))))
        left = max(Decimal(0), total - sum((item.amount for item in payments), Decimal(0)))
        bills.append(PayableBill(bill_id, None, "v1", "Vendor", issued, due, total, left, (), None, payments))
    movements = [
        CashMovement(draw(days), "bank", amount if inflow else -amount, "Deposit", str(number))
        for number, (amount, inflow) in enumerate(draw(st.lists(st.tuples(cents, st.booleans()), max_size=20)))
    ]
    first_rent = draw(days)
    key = SeriesKey("purchase-rent", "Landlord", "purchase")
    spends = [
        Spend(
            key,
            f"rent{month}",
            first_rent + timedelta(days=30 * month),
            Decimal("2500.00"),
            Category.RENT,
            "bank",
            "bank",
        )
        for month in range(draw(st.integers(0, 8)))
    ]
    bank = CashAccount("bank", "Checking", AccountKind.BANK, draw(cents), active=True, currency="USD")
    return Books(
        business_id=uuid.uuid4(),
        timezone="America/Los_Angeles",
        receivables=Receivables(invoices),
        payables=Payables(bills, {"v1": Vendor("v1", "Vendor", active=True)}),
        ledger=CashLedger([bank], movements),
        spending=SpendingHistory(spends),
        decisions=NO_DECISIONS,
        earmarks=NO_EARMARKS,
    )


@settings(max_examples=40, deadline=None)
@given(books=random_books(), weeks_back=st.integers(min_value=0, max_value=40))
def test_any_books_are_replayed_or_refused_saying_why_and_never_with_what_came_after(
    books: Books, weeks_back: int
) -> None:
    first = first_day(books)
    # 8 weeks of books before a replayed day, and the 4 forecast weeks after it over by yesterday.
    if first is None or first + timedelta(weeks=8) > TODAY - timedelta(weeks=HORIZON_WEEKS):
        with pytest.raises(NotEnoughHistory, match="needs at least 8 weeks of history"):
            backtest(books, TODAY)
    else:
        result = backtest(books, TODAY)
        assert 1 <= len(result.as_of_days) <= 52
        assert result.as_of_days[0] >= first + timedelta(weeks=8)
        assert result.as_of_days[-1] == TODAY - timedelta(weeks=HORIZON_WEEKS)
        for errors in (result.ours, result.naive):
            assert errors.cash_mae >= 0
            assert (errors.collections_wape is None) == (result.collected == 0)
            assert errors.collections_wape is None or errors.collections_wape >= 0
    day = TODAY - timedelta(weeks=weeks_back, days=1)
    assert replay(books_until(books, day), day) == replay(books, day)


# ------------------------------------------------------------------------------------------ too short to replay
def test_books_need_eight_weeks_before_a_replayed_week_and_the_horizon_after_it(crisis_books: Books) -> None:
    first = first_day(crisis_books)
    assert first is not None
    enough = first + timedelta(weeks=8 + HORIZON_WEEKS)
    books = books_until(crisis_books, enough - timedelta(days=1))

    assert replay_days(books, enough) == [first + timedelta(weeks=8)]
    assert backtest(books, enough).as_of_days == (first + timedelta(weeks=8),)
    with pytest.raises(NotEnoughHistory) as refused:
        backtest(books, enough - timedelta(days=1))
    assert "needs at least 8 weeks of history before a replayed week and 4 weeks after it" in refused.value.message
    assert f"books start on {first.isoformat()}" in refused.value.message


def test_books_without_a_transaction_cannot_be_replayed() -> None:
    empty = Books(
        business_id=uuid.uuid4(),
        timezone="America/Los_Angeles",
        receivables=Receivables(()),
        payables=Payables((), {}),
        ledger=CashLedger((), ()),
        spending=SpendingHistory(()),
        decisions=NO_DECISIONS,
        earmarks=NO_EARMARKS,
    )
    with pytest.raises(NotEnoughHistory, match="no dated transactions yet"):
        backtest(empty, TODAY)
    for horizon in (0, 14):
        with pytest.raises(HorizonOutOfRange) as refused:
            backtest(empty, TODAY, horizon)
        assert refused.value.field == "horizon_weeks"
