"""A payment date must lie within a window around today in the business's zone, at any hour: run at 00:30 and 23:30
local on both sides of UTC, for a business in the clock's zone and in one where the date is another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from oodaloo.domains.ap.service import PAYMENT_DATE_MAX_DAYS_AHEAD, PAYMENT_DATE_MAX_DAYS_BACK
from oodaloo.settings import Settings
from tests.support.clock import EDGE_INSTANTS, Instant, clock_fixture
from tests.support.qbo import (
    Browsers,
    SandboxCompany,
    Served,
    connect,
    new_business,
    served_beside_a_sandbox,
)

REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
# Both zones of EDGE_INSTANTS: at each instant one of them may already (or still) be on another date.
ZONES = ("America/Los_Angeles", "Pacific/Auckland")

frozen_clock = clock_fixture(EDGE_INSTANTS, scope="module")


@pytest.fixture(scope="module")
def served(settings: Settings, frozen_clock: Instant) -> Iterator[Served]:
    # Started inside the frozen clock, so the app, the sandbox and the tokens all live at the instant.
    with served_beside_a_sandbox(settings, redirect_uri=REDIRECT_URI, redis_url=None) as (served, _):
        yield served


@pytest.mark.parametrize("zone", ZONES)
def test_the_window_is_counted_from_the_business_s_own_today(
    served: Served, browsers: Browsers, frozen_clock: Instant, zone: str
) -> None:
    owner = browsers.sign_up("dates")
    business_id = new_business(owner, timezone=zone)
    company = SandboxCompany.create(served.sandbox)
    connect(owner, business_id, REDIRECT_URI, company.realm_id)
    bank_id = company.account_id("Bank")
    bill = company.new_bill("100.00")
    # The clock ticks on from the instant; 30 minutes of margin to midnight is far more than this test takes.
    today = datetime.now(ZoneInfo(zone)).date()
    earliest, latest = (
        today - timedelta(days=PAYMENT_DATE_MAX_DAYS_BACK),
        today + timedelta(days=PAYMENT_DATE_MAX_DAYS_AHEAD),
    )

    def pay(on: date, amount: str) -> httpx.Response:
        return owner.post(
            f"/api/businesses/{business_id}/bills/{bill['Id']}/pay",
            json={"amount": amount, "pay_from_account_id": bank_id, "payment_date": on.isoformat()},
            headers={"Idempotency-Key": f"dates-{on.isoformat()}-{amount}"},
        )

    for outside in (earliest - timedelta(days=1), latest + timedelta(days=1)):
        refused = pay(outside, "100.00")
        assert refused.status_code == 422, (outside, refused.text)
        error = refused.json()["error"]
        assert (error["code"], error["field"]) == ("payment_date_out_of_range", "payment_date")
        assert f"today, {today.isoformat()}" in error["message"]
    # The first day of the window passes the date check and goes on to the bill's balance (over it: nothing written).
    passed = pay(earliest, "100.01")
    assert (passed.status_code, passed.json()["error"]["code"]) == (422, "amount_over_balance"), passed.text
    assert company.payments_of_bill(bill["Id"]) == []
    # The last day is accepted and written to QuickBooks with that date.
    paid = pay(latest, "100.00")
    assert paid.status_code == 200, paid.text
    assert [payment["TxnDate"] for payment in company.payments_of_bill(bill["Id"])] == [latest.isoformat()]
    assert company.bill_balance(bill["Id"]) == Decimal(0)
