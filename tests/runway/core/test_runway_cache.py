"""The runway cache over real HTTP: the app served beside a sandbox (jobs in-process), a business of its own per test
with its mirror synced. A repeat read with nothing changed is served from the cache; after every kind of change to what
the forecast reads — a sync storing a changed object, our own payment, a bill plan, a vendor setting, a reserve, a
recurring item, a scheduled payment — the next read shows it, and equals a forecast computed afresh (no cache)."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.recurring import fit_schedule
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import MirroredBill, MirrorStatus
from oodaloo.infra.collector import collector_paused
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.runway.core.books_version import BooksVersion, books_version
from oodaloo.runway.core.cache import RunwayCache, runway_cache
from oodaloo.runway.core.forecast import WEEKS
from oodaloo.runway.core.service import RunwayService
from tests.runway.action_support import Books, JSONObject, connected_books, money, today
from tests.support.qbo import Browsers, Served

# Background jobs may change the books while a test compares: it reads again, a few times at most.
ATTEMPTS = 5
PLAIN_EXPENSE = "Office Supplies"  # no rule claims a bill booked there (not payroll, taxes or rent)


# ------------------------------------------------------------------------------------------------ reading it
def in_database(books: Books, read: Callable[[AsyncSession, Business], Any]) -> Any:
    """``read(session, business)`` in a unit of work of the test's own, beside the served app."""

    async def go() -> Any:
        database = Database(books.mirror.database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                business = await session.get(Business, uuid.UUID(books.business_id))
                assert business is not None
                return await read(session, business)
        finally:
            await database.dispose()

    return asyncio.run(go())


def version_of(books: Books) -> BooksVersion:
    version: BooksVersion = in_database(books, lambda session, business: books_version(session, business.id))
    return version


def served_runway(books: Books) -> JSONObject:
    """The runway and its 13 weeks, as the API serves them."""
    summary = books.get("/runway")
    assert summary.status_code == 200, summary.text
    weeks = [books.get(f"/runway/weeks/{number}") for number in range(1, WEEKS + 1)]
    assert all(week.status_code == 200 for week in weeks)
    return {"summary": summary.json(), "weeks": [week.json() for week in weeks]}


def fresh(books: Books) -> JSONObject:
    """The same, computed from the books now without any cache."""

    async def compute(session: AsyncSession, business: Business) -> JSONObject:
        service = RunwayService(session, business, cache=RunwayCache())
        summary = await service.summary()
        weeks = [await service.week(number) for number in range(1, WEEKS + 1)]
        return {
            "summary": summary.model_dump(mode="json", by_alias=True),
            "weeks": [week.model_dump(mode="json", by_alias=True) for week in weeks],
        }

    runway: JSONObject = in_database(books, compute)
    return runway


def served_and_fresh(books: Books) -> tuple[JSONObject, JSONObject]:
    """What the API serves and a fresh forecast, of the same books (read again if they changed in between)."""
    for _ in range(ATTEMPTS):
        version = version_of(books)
        answer, computed = served_runway(books), fresh(books)
        if version_of(books) == version:
            return answer, computed
    raise AssertionError("the books kept changing while the test compared")


def shows_the_change(books: Books, before: JSONObject) -> JSONObject:
    """The runway served after a change: the fresh forecast's, and not the one before the change."""
    answer, computed = served_and_fresh(books)
    assert answer == computed
    assert answer != before
    return answer


def items(runway: JSONObject, kind: str, source_id: str) -> list[JSONObject]:
    return [
        item
        for week in runway["weeks"]
        for item in week["items"]
        if item["kind"] == kind and item["source_id"] == source_id
    ]


def plain_bill(books: Books, amount: str, due: date, vendor_id: str | None = None) -> JSONObject:
    """An open bill no rule claims (booked to office supplies), due on ``due``, synced into the mirror."""
    accounts = books.company.query("SELECT * FROM Account WHERE AccountType = 'Expense' MAXRESULTS 1000")
    account = next(row["Id"] for row in accounts if row["Name"] == PLAIN_EXPENSE)
    bill = books.company.write(
        "Bill",
        {
            "VendorRef": {"value": vendor_id or books.company.vendor_ids()[0]},
            "DueDate": due.isoformat(),
            "Line": [
                {
                    "Amount": amount,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}},
                }
            ],
        },
    )
    books.sync()
    return bill


def computations(books: Books) -> int:
    return runway_cache.computations(uuid.UUID(books.business_id))


# ------------------------------------------------------------------------------------------------ unchanged
def test_a_repeat_read_with_nothing_changed_is_served_from_the_cache(books: Books) -> None:
    bill = plain_bill(books, "310.00", today() + timedelta(days=9))
    first, computed = served_and_fresh(books)
    assert first == computed
    kept = computations(books)
    assert kept >= 1

    assert served_runway(books) == first
    change = {"changes": [{"action": "pay", "source_id": bill["Id"]}]}
    impact = books.post("/runway/impact", change)
    assert impact.status_code == 200, impact.text
    assert impact.json()["before"] == first["summary"]["runway"]
    assert computations(books) == kept  # the reads and the what-if: none computed the forecast again


def test_two_reads_at_once_after_a_change_both_show_it(books: Books) -> None:
    before = served_runway(books)
    created = books.post("/reserves", {"kind": "custom", "name": "Equipment", "amount": "2500.00"})
    assert created.status_code == 201, created.text
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: books.get("/runway").json(), range(2)))
    computed = fresh(books)
    assert answers == [computed["summary"], computed["summary"]]
    assert money(computed["summary"]["free_cash"]) == money(before["summary"]["free_cash"]) - Decimal("2500.00")


# ----------------------------------------------------------------------------------------- each kind of change
def test_a_sync_storing_a_changed_bill_moves_it_in_the_next_read(books: Books) -> None:
    due = today() + timedelta(days=10)
    bill = plain_bill(books, "420.00", due)
    before = served_runway(books)
    assert [item["on"] for item in items(before, "bill", bill["Id"])] == [due.isoformat()]

    later = due + timedelta(days=14)
    current = books.company.read("Bill", bill["Id"])
    books.company.write(
        "Bill", {"Id": bill["Id"], "SyncToken": current["SyncToken"], "sparse": True, "DueDate": later.isoformat()}
    )
    books.sync()  # the mirror's row is updated in place: no row added or removed
    after = shows_the_change(books, before)
    assert [item["on"] for item in items(after, "bill", bill["Id"])] == [later.isoformat()]


def test_our_own_payment_shows_in_the_next_read(books: Books) -> None:
    bill = plain_bill(books, "275.00", today() + timedelta(days=12))
    before = served_runway(books)
    paid = books.post(f"/bills/{bill['Id']}/pay", {"amount": "275.00", "pay_from_account_id": books.bank_id()})
    assert paid.status_code == 200, paid.text
    after = shows_the_change(books, before)
    assert money(after["summary"]["starting_cash"]) == money(before["summary"]["starting_cash"]) - Decimal("275.00")
    assert items(after, "bill", bill["Id"]) == []


def test_a_bill_plan_shows_in_the_next_read(books: Books) -> None:
    bill = plain_bill(books, "190.00", today() + timedelta(days=8))
    before = served_runway(books)
    planned = today() + timedelta(days=30)
    response = books.owner.client.patch(
        f"{books.base}/bills/{bill['Id']}/plan", json={"planned_pay_date": planned.isoformat()}
    )
    assert response.status_code == 200, response.text
    after = shows_the_change(books, before)
    assert [item["on"] for item in items(after, "bill", bill["Id"])] == [planned.isoformat()]


def test_a_vendor_setting_shows_in_the_next_read(books: Books) -> None:
    vendor_id = books.company.vendor_ids()[0]
    bill = plain_bill(books, "155.00", today() + timedelta(days=6), vendor_id)
    before = served_runway(books)
    (listed,) = items(before, "bill", bill["Id"])
    assert "marked critical" not in listed["reason"]
    response = books.owner.client.patch(f"{books.base}/vendors/{vendor_id}", json={"critical": True})
    assert response.status_code == 200, response.text
    after = shows_the_change(books, before)
    (listed,) = items(after, "bill", bill["Id"])
    assert "marked critical" in listed["reason"]


def test_a_reserve_added_then_deleted_shows_in_each_next_read(books: Books) -> None:
    before = served_runway(books)
    created = books.post("/reserves", {"kind": "payroll", "name": "Next payroll", "amount": "4000.00"})
    assert created.status_code == 201, created.text
    held = shows_the_change(books, before)
    assert money(held["summary"]["free_cash"]) == money(before["summary"]["free_cash"]) - Decimal("4000.00")

    deleted = books.owner.client.delete(f"{books.base}/reserves/{created.json()['id']}")
    assert deleted.status_code == 204, deleted.text
    released = shows_the_change(books, held)
    assert released["summary"]["free_cash"] == before["summary"]["free_cash"]


def test_a_recurring_item_edit_shows_in_the_next_read(books: Books) -> None:
    listed = books.get("/recurring-items").json()
    item = next(item for item in listed if item["in_forecast"] and item["upcoming"])
    before = served_runway(books)
    raised = money(item["amount"]) + Decimal("100.00")
    response = books.owner.client.patch(f"{books.base}/recurring-items/{item['id']}", json={"amount": str(raised)})
    assert response.status_code == 200, response.text
    after = shows_the_change(books, before)
    occurrences = [
        occurrence
        for week in after["weeks"]
        for occurrence in week["items"]
        if occurrence["kind"] == "recurring" and occurrence["source_id"].startswith(f"{item['id']}:")
    ]
    assert occurrences
    assert all(money(occurrence["amount"]) == raised for occurrence in occurrences)


def test_a_scheduled_payment_shows_in_the_next_read(books: Books) -> None:
    bill = plain_bill(books, "380.00", today() + timedelta(days=15))
    before = served_runway(books)
    body = {
        "amount": "120.00",
        "pay_from_account_id": books.bank_id(),
        "pay_on": (today() + timedelta(days=5)).isoformat(),
    }
    response = books.post(f"/bills/{bill['Id']}/scheduled-payments", body)
    assert response.status_code == 200, response.text
    after = shows_the_change(books, before)
    assert money(after["summary"]["free_cash"]) == money(before["summary"]["free_cash"]) - Decimal("120.00")
    assert [money(item["amount"]) for item in items(after, "bill", bill["Id"])] == [Decimal("260.00")]


def test_a_change_stamped_before_the_newest_one_shows_in_the_next_read(books: Books) -> None:
    """A writer that took its stamp before another's but committed after it (concurrent transactions, or servers
    whose clocks disagree): its row's stamp is below the newest, and the row count does not move."""
    bill = plain_bill(books, "230.00", today() + timedelta(days=7))
    plain_bill(books, "45.00", today() + timedelta(days=3))  # written after it: the newest stamps are this sync's
    before = served_runway(books)

    async def restamp(session: AsyncSession, business: Business) -> tuple[Any, Any]:
        mine = (MirroredBill.business_id == business.id) & (MirroredBill.status == MirrorStatus.ACTIVE)
        newest = await session.scalar(select(func.max(MirroredBill.synced_at)).where(mine))
        assert newest is not None
        await session.execute(
            update(MirroredBill)
            .where(mine, MirroredBill.qbo_id == bill["Id"])
            .values(balance=Decimal("30.00"), synced_at=newest - timedelta(milliseconds=1))
        )
        await session.flush()
        after = await session.scalar(select(func.max(MirroredBill.synced_at)).where(mine))
        return newest, after

    newest, after = in_database(books, restamp)
    assert after == newest  # the newest stamp did not move
    runway = shows_the_change(books, before)
    assert [money(item["amount"]) for item in items(runway, "bill", bill["Id"])] == [Decimal("30.00")]


# ------------------------------------------------------------------------------------------------ the cache itself
def test_the_least_recently_used_business_makes_room(served: Served, browsers: Browsers, books: Books) -> None:
    other = connected_books(served, browsers)
    cache = RunwayCache(capacity=1)

    def current(of: Books) -> Callable[[AsyncSession, Business], Any]:
        return lambda session, business: cache.current(session, business)

    first = in_database(books, current(books))
    assert cache.computations(uuid.UUID(books.business_id)) == 1
    assert in_database(books, current(books)) is first  # kept
    in_database(other, current(other))
    assert cache.computations(uuid.UUID(books.business_id)) == 0  # dropped for the other business
    assert in_database(books, current(books)) is not first  # computed again
    assert cache.computations(uuid.UUID(books.business_id)) == 1


def test_a_cache_holds_at_least_one_business() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RunwayCache(capacity=0)


# ------------------------------------------------------------------------------------------ what the loaders use
def test_the_collector_is_back_on_after_a_pause_and_stays_off_if_it_was() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner pause does not end the outer one
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a build that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as the process had it
    finally:
        gc.enable()


def test_a_remembered_schedule_fit_is_not_changed_by_what_a_caller_does_with_it() -> None:
    days = [date(2026, 1, 5) + timedelta(days=7 * week) for week in range(6)]
    fit = fit_schedule(days)
    assert fit is not None
    fit.on_schedule.clear()
    again = fit_schedule(list(days))
    assert again is not None
    assert again.on_schedule == days
