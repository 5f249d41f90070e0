"""Scheduled payments over real HTTP against the sandbox: scheduled (once per key, within the bill's balance), out of
free cash until paid, made once on their day in the business's time zone by the in-process job system (the clock moved
to that day), stopped with the reason when the bill was paid elsewhere meanwhile, and cancelled before their day."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

import time_machine

from tests.runway.action_support import ZONE, Books, JSONObject, money, new_key, today

WAIT_SECONDS = 30.0


def morning_of(day: date) -> datetime:
    return datetime.combine(day, clock_time(9, 0), tzinfo=ZONE)


def schedule(books: Books, bill_id: str, amount: str, pay_on: date, key: str | None = None) -> Any:
    body = {"amount": amount, "pay_from_account_id": books.bank_id(), "pay_on": pay_on.isoformat()}
    return books.post(f"/bills/{bill_id}/scheduled-payments", body, key=key)


def scheduled(books: Books, scheduled_id: str) -> JSONObject:
    response = books.get(f"/scheduled-payments/{scheduled_id}")
    assert response.status_code == 200, response.text
    body: JSONObject = response.json()
    return body


def until_status(books: Books, scheduled_id: str, statuses: set[str]) -> JSONObject:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        current = scheduled(books, scheduled_id)
        if current["status"] in statuses:
            return current
        assert time.monotonic() < deadline, f"still {current['status']}: {current}"
        time.sleep(0.1)


def free_cash(books: Books) -> Decimal:
    response = books.get("/runway")
    assert response.status_code == 200, response.text
    return money(response.json()["free_cash"])


def test_a_payment_scheduled_for_tomorrow_is_earmarked_then_made_once_on_its_day(books: Books) -> None:
    bill = books.company.new_bill("400.00")
    books.sync()
    pay_on = today() + timedelta(days=1)
    free_before = free_cash(books)
    key = new_key("schedule")

    response = schedule(books, bill["Id"], "150.00", pay_on, key)
    assert response.status_code == 200, response.text
    answer = response.json()
    planned = answer["scheduled_payment"]
    assert (planned["status"], planned["earmarked"], planned["amount"], planned["pay_on"]) == (
        "scheduled",
        True,
        "150.00",
        pay_on.isoformat(),
    )
    # Out of free cash from the moment it is scheduled (as its impact said), nothing in QuickBooks yet.
    assert free_cash(books) == free_before - Decimal("150.00")
    impact = answer["impact"]
    assert (money(impact["free_cash_today_before"]), money(impact["free_cash_today_after"])) == (
        free_before,
        free_cash(books),
    )
    assert impact["after"]["days"] == books.get("/runway").json()["runway"]["days"]
    assert books.company.payments_of_bill(bill["Id"]) == []
    again = schedule(books, bill["Id"], "150.00", pay_on, key)
    assert again.json() == {**answer, "repeated": True}
    listed = books.get("/scheduled-payments").json()
    assert [row["scheduled_payment_id"] for row in listed] == [planned["scheduled_payment_id"]]
    # The bill's balance is 400.00 and 150.00 of it is scheduled: another 260.00 is more than is left.
    over = schedule(books, bill["Id"], "260.00", pay_on)
    assert (over.status_code, over.json()["error"]["field"]) == (422, "amount")
    past = schedule(books, bill["Id"], "10.00", today() - timedelta(days=1))
    assert (past.status_code, past.json()["error"]["field"]) == (422, "pay_on")

    # Still today: the sweeps leave it waiting.
    time.sleep(1.0)
    assert scheduled(books, planned["scheduled_payment_id"])["status"] == "scheduled"
    with time_machine.travel(morning_of(pay_on), tick=True):
        paid = until_status(books, planned["scheduled_payment_id"], {"paid", "failed"})
    assert paid["status"] == "paid", paid
    (payment,) = books.company.payments_of_bill(bill["Id"])
    assert payment["Id"] == paid["bill_payment_id"]
    assert money(payment["TotalAmt"]) == Decimal("150.00")
    assert payment["TxnDate"] == pay_on.isoformat()
    action = books.action(paid["payment_action_id"])
    assert (action["kind"], action["status"], action["qbo_id"]) == ("bill.pay", "succeeded", payment["Id"])
    assert action["receipt"]["matched"] is True
    assert money(books.company.read("Bill", bill["Id"])["Balance"]) == Decimal("250.00")


def test_a_cancelled_payment_releases_its_earmark_and_is_never_made(books: Books) -> None:
    bill = books.company.new_bill("120.00")
    books.sync()
    pay_on = today() + timedelta(days=1)
    free_before = free_cash(books)
    planned = schedule(books, bill["Id"], "120.00", pay_on).json()["scheduled_payment"]
    assert free_cash(books) == free_before - Decimal("120.00")

    cancelled = books.post(f"/scheduled-payments/{planned['scheduled_payment_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["scheduled_payment"]["status"], body["already_cancelled"]) == ("cancelled", False)
    assert free_cash(books) == free_before
    # The reply's impact said so before it was done: free cash back up by the amount.
    impact = body["impact"]
    assert money(impact["free_cash_today_after"]) - money(impact["free_cash_today_before"]) == Decimal("120.00")
    again = books.post(f"/scheduled-payments/{planned['scheduled_payment_id']}/cancel")
    assert (again.status_code, again.json()["already_cancelled"]) == (200, True)

    with time_machine.travel(morning_of(pay_on), tick=True):
        time.sleep(1.5)  # several sweeps on its day
        assert scheduled(books, planned["scheduled_payment_id"])["status"] == "cancelled"
    assert books.company.payments_of_bill(bill["Id"]) == []


def test_a_payment_whose_bill_was_paid_elsewhere_is_stopped_with_the_reason(books: Books) -> None:
    bill = books.company.new_bill("80.00")
    books.sync()
    pay_on = today() + timedelta(days=1)
    planned = schedule(books, bill["Id"], "80.00", pay_on).json()["scheduled_payment"]
    # Paid in QuickBooks itself before its day.
    books.company.write(
        "BillPayment",
        {
            "VendorRef": bill["VendorRef"],
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": books.bank_id()}},
            "TotalAmt": "80.00",
            "Line": [{"Amount": "80.00", "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    with time_machine.travel(morning_of(pay_on), tick=True):
        stopped = until_status(books, planned["scheduled_payment_id"], {"paid", "failed"})
    assert stopped["status"] == "failed", stopped
    assert stopped["failure_code"] == "inputs_changed"
    assert "already paid" in stopped["failure_message"]
    assert len(books.company.payments_of_bill(bill["Id"])) == 1  # only the one made elsewhere


def test_only_a_payment_still_waiting_can_be_cancelled(books: Books) -> None:
    bill = books.company.new_bill("30.00")
    books.sync()
    planned = schedule(books, bill["Id"], "30.00", today()).json()["scheduled_payment"]  # due today: made at once
    paid = until_status(books, planned["scheduled_payment_id"], {"paid", "failed"})
    assert paid["status"] == "paid", paid
    refused = books.post(f"/scheduled-payments/{planned['scheduled_payment_id']}/cancel")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "scheduled_payment_not_cancellable")
    missing = books.get(f"/scheduled-payments/{'0' * 8}-0000-4000-8000-{'0' * 12}")
    assert missing.status_code == 404
