"""Recurring outflows found in each demo company synced from the sandbox: payroll posted as journal entries every two
weeks, rent billed monthly, estimated taxes paid by check on the tax calendar, the card's monthly payment, and the
software charged to the card counted in that payment rather than twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from oodaloo.domains.ap.recurring import Cadence, Category, RecurringItem, RecurringService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from tests.domains.ar.mirror import synced
from tests.domains.qbo.mirror_support import Realm
from tests.sandbox.conftest import RunningSandbox


def items_of(database_url: str, business_id: uuid.UUID, as_of: date) -> list[RecurringItem]:
    async def go() -> list[RecurringItem]:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                return await RecurringService(session, business_id).items(as_of)
        finally:
            await database.dispose()

    return asyncio.run(go())


@pytest.mark.parametrize("scenario", ["healthy", "tight", "crisis"])
def test_a_demo_companys_recurring_outflows(sandbox: RunningSandbox, database_url: str, scenario: str) -> None:
    realm = Realm.create(sandbox.base_url, scenario=scenario)
    harness = synced(database_url, realm)
    journal_entries = realm.objects("JournalEntry").values()
    bills = realm.objects("Bill").values()
    today = max(date.fromisoformat(entry["TxnDate"]) for entry in [*journal_entries, *bills])
    items = items_of(database_url, harness.business_id, today)
    by_category: dict[Category, list[RecurringItem]] = {}
    for item in items:
        by_category.setdefault(item.category, []).append(item)
        assert all(today <= occurrence.on < today + timedelta(days=91) for occurrence in item.upcoming)

    # Payroll: the provider's journal entries on the company's pay calendar (every two weeks, or the 15th and the
    # month's end), at about what recent runs took out, next due half a month or two weeks after the last run.
    payroll = next(item for item in by_category[Category.PAYROLL] if item.id.startswith("journal-"))
    runs = sorted(journal_entries, key=lambda entry: entry["TxnDate"])
    assert payroll.cadence in (Cadence.BIWEEKLY, Cadence.SEMIMONTHLY)
    cash_out = [
        sum(
            Decimal(str(line["Amount"]))
            for line in run["Line"]
            if line["JournalEntryLineDetail"]["PostingType"] == "Credit"
        )
        for run in runs[-5:]
    ]
    typical = sorted(cash_out)[2]  # a December bonus run among them does not move it
    assert abs(payroll.amount - typical) < typical * Decimal("0.1")
    assert 12 <= (payroll.upcoming[0].on - date.fromisoformat(runs[-1]["TxnDate"])).days <= 17

    # Rent: one bill a month for the same amount; the latest bill is the current occurrence, not forecast again.
    (rent,) = by_category[Category.RENT]
    rent_bills = sorted(
        (bill for bill in bills if bill["VendorRef"]["value"] == rent.id.removeprefix("bill-")),
        key=lambda bill: bill["TxnDate"],
    )
    assert rent.cadence is Cadence.MONTHLY
    assert rent.amount == Decimal(str(rent_bills[-1]["TotalAmt"]))
    assert rent.upcoming[0].scheduled > date.fromisoformat(rent_bills[-1]["TxnDate"]) + timedelta(days=20)

    # Estimated taxes to the IRS and the state, by check, on the tax calendar.
    taxes = [item for item in by_category[Category.TAXES] if item.cadence is Cadence.TAX_QUARTERS]
    assert len(taxes) == 2

    # The card: its monthly payment is forecast; what is charged to it is listed, counted in that payment.
    (card_payment,) = by_category[Category.CARD_PAYMENT]
    assert card_payment.cadence is Cadence.MONTHLY
    assert card_payment.in_forecast
    charged = [item for item in items if item.paid_from == "card"]
    assert charged
    assert all(item.counted_in == card_payment.id and not item.in_forecast for item in charged)
