"""Plans over real HTTP against the sandbox: gathered and checked item by item, previewed, proposed by an advisor,
approved once by the owner, executed in the background with a result and receipt per item (followed by polling and by
server-sent events), an item whose inputs changed since approval stopped with its reason, and every step in the audit
log."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import time_machine

from tests.runway.action_support import ZONE, Books, JSONObject, money, today
from tests.support.qbo import Browser, Browsers, add_member

FINISH_SECONDS = 60.0


def create(books: Books, items: list[JSONObject], as_: Browser | None = None) -> httpx.Response:
    return (as_ or books.owner).post(f"{books.base}/plans", json={"title": "Friday payments", "items": items})


def finished(books: Books, plan_id: str) -> JSONObject:
    deadline = time.monotonic() + FINISH_SECONDS
    while True:
        plan: JSONObject = books.get(f"/plans/{plan_id}").json()
        if plan["status"] in ("finished", "cancelled"):
            return plan
        assert time.monotonic() < deadline, f"the plan is still {plan['status']}: {plan['counts']}"
        time.sleep(0.2)


def mixed_items(books: Books) -> tuple[list[JSONObject], dict[str, Any]]:
    bills = [books.company.new_bill(amount) for amount in ("200.00", "75.00", "310.00")]
    books.sync()
    invoices = books.invoices_of_distinct_customers(2)
    items: list[JSONObject] = [
        {"kind": "bill.pay", "bill_id": bills[0]["Id"], "amount": "200.00", "pay_from_account_id": books.bank_id()},
        {"kind": "bill.pay", "bill_id": bills[1]["Id"], "amount": "25.00", "pay_from_account_id": books.card_id()},
        {
            "kind": "bill.schedule_payment",
            "bill_id": bills[2]["Id"],
            "amount": "100.00",
            "pay_from_account_id": books.bank_id(),
            "pay_on": (today() + timedelta(days=7)).isoformat(),
        },
        {
            "kind": "bill.delay",
            "bill_id": bills[1]["Id"],
            "planned_pay_date": (today() + timedelta(days=14)).isoformat(),
        },
        {
            "kind": "invoice.record_payment",
            "invoice_id": invoices[0]["Id"],
            "amount": "12.00",
            "deposit_to_account_id": books.bank_id(),
        },
        {"kind": "invoice.send_reminder", "invoice_id": invoices[1]["Id"]},
    ]
    return items, {"bills": bills, "invoices": invoices}


def test_a_plan_proposed_by_an_advisor_approved_and_executed_once_with_a_receipt_per_item(
    books: Books, browsers: Browsers
) -> None:
    advisor = browsers.sign_up("advisor")
    add_member(books.owner, books.business_id, advisor, "advisor")
    items, made = mixed_items(books)

    created = create(books, items, as_=advisor)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["status"], plan["counts"]["pending"]) == ("draft", len(items))
    preview = books.get(f"/plans/{plan['plan_id']}/impact").json()
    assert preview["items"] == len(items)
    assert preview["impact"] is not None
    assert (
        preview["impact"]["before"] != preview["impact"]["after"]
        or preview["impact"]["ending_cash_before"] != (preview["impact"]["ending_cash_after"])
    )

    proposed = advisor.post(f"{books.base}/plans/{plan['plan_id']}/propose")
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["plan"]["status"] == "proposed"
    # The advisor proposes; only the owner (or an advisor allowed to act) approves.
    refused = advisor.post(f"{books.base}/plans/{plan['plan_id']}/approve")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")
    approved = books.owner.post(f"{books.base}/plans/{plan['plan_id']}/approve", json={"revision": plan["revision"]})
    assert approved.status_code == 200, approved.text
    twice = books.owner.post(f"{books.base}/plans/{plan['plan_id']}/approve")
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "plan_status_conflict")

    before = books.requests()
    executing = books.owner.post(f"{books.base}/plans/{plan['plan_id']}/execute")
    assert executing.status_code == 202, executing.text
    done = finished(books, plan["plan_id"])
    assert done["counts"]["succeeded"] == len(items), [(i["kind"], i["status"], i["reason"]) for i in done["items"]]
    for item in done["items"]:
        assert item["action_id"] is not None
        assert item["receipt"] is not None, item
        assert item["receipt"].get("matched", True) is True, item
    # Exactly one QBO write per QBO action: two bill payments, a customer payment, an email.
    during = books.requests() - before
    assert (during["billpayment"], during["payment"], during["invoice/send"]) == (2, 1, 1), during
    assert len(books.our_writes("BillPayment")) == 2
    assert len(books.our_writes("Payment")) == 1
    scheduled = books.get("/scheduled-payments").json()
    assert [(row["bill_id"], row["status"]) for row in scheduled] == [(made["bills"][2]["Id"], "scheduled")]

    # Asked to execute again, nothing runs twice.
    again = books.owner.post(f"{books.base}/plans/{plan['plan_id']}/execute")
    assert again.status_code == 200, again.text
    time.sleep(1.0)
    writes = ("billpayment", "payment", "invoice/send")
    assert [(books.requests() - before)[name] for name in writes] == [during[name] for name in writes]

    audit = [event["action"] for event in books.get("/audit").json()["events"]]
    for step in ("plan.created", "plan.proposed", "plan.approved", "plan.executed", "plan.finished"):
        assert step in audit


def test_an_item_whose_bill_was_paid_elsewhere_after_approval_is_stopped_with_the_reason(books: Books) -> None:
    bills = [books.company.new_bill("60.00"), books.company.new_bill("45.00")]
    books.sync()
    items = [
        {"kind": "bill.pay", "bill_id": bill["Id"], "amount": bill["Balance"], "pay_from_account_id": books.bank_id()}
        for bill in bills
    ]
    plan = create(books, items).json()
    assert books.owner.post(f"{books.base}/plans/{plan['plan_id']}/approve").status_code == 200
    # Paid in QuickBooks itself, after the approval.
    books.company.write(
        "BillPayment",
        {
            "VendorRef": bills[0]["VendorRef"],
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": books.bank_id()}},
            "TotalAmt": "60.00",
            "Line": [{"Amount": "60.00", "LinkedTxn": [{"TxnId": bills[0]["Id"], "TxnType": "Bill"}]}],
        },
    )
    with time_machine.travel(datetime.now(ZONE) + timedelta(minutes=2), tick=True):  # the mirror is stale by then
        assert books.owner.post(f"{books.base}/plans/{plan['plan_id']}/execute").status_code == 202
        done = finished(books, plan["plan_id"])
    stopped, paid = done["items"]
    assert (stopped["status"], stopped["reason_code"]) == ("stopped", "inputs_changed")
    assert "open balance is 0.00 now, not 60.00" in stopped["reason"]
    assert stopped["action_id"] is None
    assert paid["status"] == "succeeded"
    assert len(books.company.payments_of_bill(bills[0]["Id"])) == 1  # only the one made elsewhere


def test_items_the_books_do_not_allow_are_refused_naming_them(books: Books, browsers: Browsers) -> None:
    bill = books.company.new_bill("50.00")
    books.sync()
    pay = {"kind": "bill.pay", "bill_id": bill["Id"], "pay_from_account_id": books.bank_id()}
    # Together the two payments exceed the bill's balance: the second is the one refused.
    over = create(books, [{**pay, "amount": "30.00"}, {**pay, "amount": "30.00"}])
    assert over.status_code == 422, over.text
    assert over.json()["error"]["field"] == "items.1.amount"
    unknown = create(books, [{"kind": "bill.explode", "bill_id": bill["Id"]}])
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (422, "items.0")
    assert books.get("/plans").json() == []

    plan = create(books, [{**pay, "amount": "30.00"}]).json()
    added = books.owner.post(
        f"{books.base}/plans/{plan['plan_id']}/items", json={"items": [{**pay, "amount": "20.00"}]}
    )
    assert added.status_code == 200, added.text
    assert (added.json()["revision"], len(added.json()["items"])) == (2, 2)
    stale = books.owner.post(f"{books.base}/plans/{plan['plan_id']}/approve", json={"revision": 1})
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "plan_changed")
    viewer = browsers.sign_up("viewer")
    add_member(books.owner, books.business_id, viewer, "viewer")
    assert viewer.post(f"{books.base}/plans/{plan['plan_id']}/execute").status_code == 403
    not_approved = books.owner.post(f"{books.base}/plans/{plan['plan_id']}/execute")
    assert (not_approved.status_code, not_approved.json()["error"]["code"]) == (409, "plan_status_conflict")
    cancelled = books.owner.post(f"{books.base}/plans/{plan['plan_id']}/cancel")
    assert cancelled.json()["plan"]["status"] == "cancelled"


def test_execution_is_followed_live_through_server_sent_events(books: Books) -> None:
    bills = [books.company.new_bill(f"{30 + index}.00") for index in range(3)]
    books.sync()
    items = [
        {"kind": "bill.pay", "bill_id": bill["Id"], "amount": "10.00", "pay_from_account_id": books.bank_id()}
        for bill in bills
    ]
    plan = create(books, items).json()
    assert books.owner.post(f"{books.base}/plans/{plan['plan_id']}/approve").status_code == 200

    events: list[tuple[str, JSONObject]] = []
    opened = threading.Event()

    def listen() -> None:
        url = f"{books.base}/plans/{plan['plan_id']}/events"
        with books.owner.client.stream("GET", url, timeout=60) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            opened.set()
            name = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name is not None:
                    events.append((name, json.loads(line.removeprefix("data: "))))
                    if name == "end":
                        return

    listener = threading.Thread(target=listen)
    listener.start()
    assert opened.wait(10)
    assert books.owner.post(f"{books.base}/plans/{plan['plan_id']}/execute").status_code == 202
    listener.join(FINISH_SECONDS)
    assert not listener.is_alive()

    names = [name for name, _ in events]
    assert names[0] == "plan"
    assert names[-1] == "end"
    assert events[-1][1]["status"] == "finished"
    succeeded = {data["item_id"] for name, data in events if name == "item" and data["status"] == "succeeded"}
    assert succeeded == {item["item_id"] for item in plan["items"]}
    receipts = [data["receipt"] for name, data in events if name == "item" and data["status"] == "succeeded"]
    assert all(money(receipt["asked"]["amount"]) == Decimal("10.00") for receipt in receipts)
