"""Each kind of action over real HTTP against the sandbox, on a business whose mirror is synced: it succeeds (and QBO
shows it once), it is refused naming the field, and a repeat of its Idempotency-Key answers the first outcome without
acting again. Also: paying by card, the reply's runway impact, and the list of every action."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from oodaloo.domains.ar.reminders import REMINDER_COOLDOWN
from tests.runway.action_support import ZONE, Books, money, new_key, today
from tests.support.qbo import Browsers, add_member


# ---------------------------------------------------------------------------------------- recording a payment
def test_recording_a_customer_payment_to_the_bank_applies_it_once_with_a_receipt(books: Books) -> None:
    invoice = books.open_invoices()[0]
    balance = money(invoice["Balance"])
    body = {"amount": "10.00", "deposit_to_account_id": books.bank_id()}
    key = new_key("pay-in")

    first = books.post(f"/invoices/{invoice['Id']}/payments", body, key=key)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["status"], answer["amount"], answer["deposit_to_account_id"]) == (
        "succeeded",
        "10.00",
        books.bank_id(),
    )
    receipt = answer["receipt"]
    assert receipt["matched"] is True, receipt
    assert receipt["matches"] == {"amount": True, "invoice_id": True, "account_id": True}
    assert receipt["qbo_id"] == answer["payment_id"]
    assert receipt["sync_token"] is not None
    # The runway impact, estimated before: 10.00 more in the bank today (it was expected later), as the forecast of
    # the books now says.
    impact = answer["impact"]
    assert money(impact["free_cash_today_after"]) - money(impact["free_cash_today_before"]) == Decimal("10.00")
    assert money(books.get("/runway").json()["free_cash"]) == money(impact["free_cash_today_after"])

    written = books.our_writes("Payment")
    assert [payment["Id"] for payment in written] == [answer["payment_id"]]
    assert written[0]["Line"][0]["LinkedTxn"][0] == {"TxnId": invoice["Id"], "TxnType": "Invoice"}
    assert books.invoice_balance(invoice["Id"]) == balance - 10
    # In the mirror at once (from the write's own answer), as QBO records it.
    assert books.mirror.rows("Invoice")[invoice["Id"]].balance == balance - 10  # type: ignore[attr-defined]

    again = books.post(f"/invoices/{invoice['Id']}/payments", body, key=key)
    assert again.status_code == 200, again.text
    assert again.json() == {**answer, "repeated": True}
    other = books.post(f"/invoices/{invoice['Id']}/payments", {**body, "amount": "11.00"}, key=key)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_conflict")
    assert len(books.our_writes("Payment")) == 1


def test_a_payment_into_undeposited_funds_is_no_bank_cash_until_deposited(books: Books) -> None:
    invoice = books.open_invoices()[0]
    response = books.post(f"/invoices/{invoice['Id']}/payments", {"amount": "5.00"})
    assert response.status_code == 200, response.text
    answer = response.json()
    undeposited = books.company.read("Account", answer["deposit_to_account_id"])
    assert undeposited["AccountSubType"] == "UndepositedFunds"
    # The forecast counts bank cash: money received into Undeposited Funds reaches it with its Deposit, so the 5.00
    # the invoice was expected to bring within the 13 weeks is not in the bank at their end, as a fresh forecast says.
    impact = answer["impact"]
    assert money(impact["ending_cash_before"]) - money(impact["ending_cash_after"]) == Decimal("5.00")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"amount": "999999.00"}, 422, "amount_over_balance", "amount"),
        ({"amount": "1.00", "deposit_to_account_id": "expense"}, 422, "account_not_usable", "deposit_to_account_id"),
        ({"amount": "1.001"}, 422, "invalid_input", "amount"),
        ({"amount": "1.00", "payment_date": "2999-01-01"}, 422, "payment_date_out_of_range", "payment_date"),
    ],
)
def test_a_payment_the_books_do_not_allow_is_refused_naming_the_field_and_nothing_is_written(
    books: Books, body: dict[str, str], status: int, code: str, field: str
) -> None:
    invoice = books.open_invoices()[0]
    if body.get("deposit_to_account_id") == "expense":
        body = {**body, "deposit_to_account_id": books.company.account_id("Expense")}
    response = books.post(f"/invoices/{invoice['Id']}/payments", body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert books.our_writes("Payment") == []
    missing = books.post("/invoices/999999/payments", {"amount": "1.00"})
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "invoice_id")
    assert books.post(f"/invoices/{invoice['Id']}/payments", {"amount": "1.00"}, without_key=True).status_code == 428


# ----------------------------------------------------------------------------------------------- reminders
def test_a_reminder_is_sent_through_quickbooks_once_and_its_customer_then_cools_down(books: Books) -> None:
    first_invoice = books.open_invoices()[0]
    customer = first_invoice["CustomerRef"]["value"]
    key = new_key("remind")
    before = books.requests()

    sent = books.post(f"/invoices/{first_invoice['Id']}/reminders", key=key)
    assert sent.status_code == 200, sent.text
    answer = sent.json()
    assert (answer["status"], answer["customer_id"]) == ("succeeded", customer)
    assert answer["receipt"]["matched"] is True, answer["receipt"]
    assert books.company.read("Invoice", first_invoice["Id"])["EmailStatus"] == "EmailSent"
    assert (books.requests() - before)["invoice/send"] == 1

    again = books.post(f"/invoices/{first_invoice['Id']}/reminders", key=key)
    assert again.status_code == 200, again.text
    assert again.json() == {**answer, "repeated": True}
    other_invoice = next(
        (
            row
            for row in books.open_invoices()
            if row["CustomerRef"]["value"] == customer and row["Id"] != first_invoice["Id"]
        ),
        first_invoice,
    )
    cooling = books.post(f"/invoices/{other_invoice['Id']}/reminders")
    assert cooling.status_code == 409, cooling.text
    assert cooling.json()["error"]["code"] == "reminder_cooling_down"
    assert (books.requests() - before)["invoice/send"] == 1

    # Three days on, the customer may hear from us again.
    with time_machine.travel(datetime.now(ZONE) + REMINDER_COOLDOWN + timedelta(minutes=5), tick=True):
        later = books.post(f"/invoices/{other_invoice['Id']}/reminders")
        assert later.status_code == 200, later.text
    assert (books.requests() - before)["invoice/send"] == 2


def test_no_reminder_for_an_invoice_paid_since_the_mirror_was_synced(books: Books) -> None:
    invoice = books.invoices_of_distinct_customers(1)[0]
    # Paid in QuickBooks itself; the mirror does not know yet.
    books.company.write(
        "Payment",
        {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": str(invoice["Balance"]),
            "Line": [
                {"Amount": str(invoice["Balance"]), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    before = books.requests()
    # A minute on, the mirror is stale: the reminder syncs it first, and finds the invoice paid.
    with time_machine.travel(datetime.now(ZONE) + timedelta(minutes=2), tick=True):
        refused = books.post(f"/invoices/{invoice['Id']}/reminders")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "invoice_paid"
    during = books.requests() - before
    assert during["cdc"] == 1
    assert during["invoice/send"] == 0


# ----------------------------------------------------------------------------------------------- delaying
def test_delaying_a_bill_moves_its_planned_date_once_without_writing_to_quickbooks(
    books: Books, browsers: Browsers
) -> None:
    bill = books.company.new_bill("250.00")
    books.sync()
    planned = today() + timedelta(days=20)
    key = new_key("delay")
    before = books.requests()

    delayed = books.post(f"/bills/{bill['Id']}/delay", {"planned_pay_date": planned.isoformat()}, key=key)
    assert delayed.status_code == 200, delayed.text
    answer = delayed.json()
    assert (answer["status"], answer["planned_pay_date"], answer["previous_planned_pay_date"]) == (
        "succeeded",
        planned.isoformat(),
        None,
    )
    assert answer["impact"] is not None
    assert books.requests() - before == Counter()
    listed = {row["bill_id"]: row for row in books.get("/bills").json()}
    assert listed[bill["Id"]]["decision"]["planned_pay_date"] == planned.isoformat()
    action = books.action(answer["action_id"])
    assert (action["kind"], action["status"]) == ("bill.delay", "succeeded")

    again = books.post(f"/bills/{bill['Id']}/delay", {"planned_pay_date": planned.isoformat()}, key=key)
    assert again.json() == {**answer, "repeated": True}
    past = books.post(f"/bills/{bill['Id']}/delay", {"planned_pay_date": (today() - timedelta(days=3)).isoformat()})
    assert (past.status_code, past.json()["error"]["field"]) == (422, "planned_pay_date")
    # A viewer may not; an advisor may (a plan of ours, not a change to the books).
    viewer = browsers.sign_up("viewer")
    add_member(books.owner, books.business_id, viewer, "viewer")
    assert (
        books.post(f"/bills/{bill['Id']}/delay", {"planned_pay_date": planned.isoformat()}, as_=viewer).status_code
        == 403
    )


# ------------------------------------------------------------------------------------- paying, listing actions
def test_a_bill_paid_in_part_by_credit_card_carries_its_receipt_and_leaves_bank_cash_alone(books: Books) -> None:
    bill = books.company.new_bill("90.00")
    books.sync()
    card = books.card_id()
    response = books.post(f"/bills/{bill['Id']}/pay", {"amount": "40.00", "pay_from_account_id": card})
    assert response.status_code == 200, response.text
    answer = response.json()
    (payment,) = books.company.payments_of_bill(bill["Id"])
    assert (payment["PayType"], payment["CreditCardPayment"]["CCAccountRef"]["value"]) == ("CreditCard", card)
    assert answer["receipt"]["matches"] == {"amount": True, "bill_id": True, "account_id": True}
    assert answer["receipt"]["sync_token"] == payment["SyncToken"]
    assert money(books.company.read("Bill", bill["Id"])["Balance"]) == Decimal("50.00")
    # The card is paid later: no bank cash leaves for this part of the bill within the 13 weeks.
    impact = answer["impact"]
    assert impact["free_cash_today_after"] == impact["free_cash_today_before"]
    assert money(impact["ending_cash_after"]) - money(impact["ending_cash_before"]) == Decimal("40.00")

    from_bank = books.post(f"/bills/{bill['Id']}/pay", {"amount": "50.00", "pay_from_account_id": books.bank_id()})
    assert from_bank.status_code == 200, from_bank.text
    banked = from_bank.json()["impact"]
    assert money(banked["free_cash_today_before"]) - money(banked["free_cash_today_after"]) == Decimal("50.00")
    assert banked["ending_cash_after"] == banked["ending_cash_before"]  # paid now rather than on its planned day


def test_actions_are_listed_newest_first_filtered_and_a_page_at_a_time(books: Books) -> None:
    bills = [books.company.new_bill(f"{20 + index}.00") for index in range(3)]
    books.sync()
    paid = [
        books.post(f"/bills/{bill['Id']}/pay", {"amount": "1.00", "pay_from_account_id": books.bank_id()}).json()
        for bill in bills
    ]
    delayed = books.post(
        f"/bills/{bills[0]['Id']}/delay", {"planned_pay_date": (today() + timedelta(days=9)).isoformat()}
    )
    refused = books.post(f"/bills/{bills[1]['Id']}/pay", {"amount": "1.00", "pay_from_account_id": "88888888"})
    assert refused.status_code == 422

    everything = books.get("/actions").json()
    ids = [action["action_id"] for action in everything["actions"]]
    assert ids == [delayed.json()["action_id"], *(answer["action_id"] for answer in reversed(paid))]
    assert everything["next_cursor"] is None
    pays = books.get("/actions", kind="bill.pay", status="succeeded").json()["actions"]
    assert [action["action_id"] for action in pays] == [answer["action_id"] for answer in reversed(paid)]
    assert all(action["receipt"]["matched"] for action in pays)

    first_page = books.get("/actions", limit=2).json()
    second_page = books.get("/actions", limit=2, cursor=first_page["next_cursor"]).json()
    assert [a["action_id"] for a in first_page["actions"] + second_page["actions"]] == ids
    assert second_page["next_cursor"] is None
    bad = books.get("/actions", cursor="not-a-cursor")
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "cursor")
    unknown = books.get(f"/actions/{uuid.uuid4()}")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "action_not_found")
