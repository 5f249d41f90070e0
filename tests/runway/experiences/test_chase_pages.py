"""The chase list as a page, over real HTTP against the sandbox: the overdue invoices in the collections ranking with
their reasons, expected dates and amounts; a reminder sent once per form and refused, saying when, within its
customer's cool-down; a payment recorded once, to the account chosen; and the buttons each role gets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest

from oodaloo.runway.experiences.phrases import plural
from oodaloo.settings import Settings
from tests.runway.action_support import Books, JSONObject, money
from tests.runway.experiences.test_board_support import (
    Console,
    console_of,
    input_value,
    member,
    served_midweek,
    text_of,
)
from tests.support.qbo import Browsers, Served


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    """The served app and sandbox, the clock frozen at ``MIDWEEK`` (dates a test computes are the app's)."""
    yield from served_midweek(settings)


def collections(books: Books) -> JSONObject:
    body: JSONObject = books.get("/collections").json()
    return body


def open_panel(console: Console, invoice_id: str) -> str:
    response = console.get(f"/chase/{invoice_id}/panel", htmx=True)
    assert response.status_code == 200, response.text
    return response.text


def key_of(panel: str, invoice_id: str, form: str) -> str:
    return input_value(panel, "idempotency_key", within=f"invoice-{invoice_id}-{form}-form")


def an_emailed_invoice(books: Books) -> JSONObject:
    """An open invoice QuickBooks can email (it has a billing address), from the chase list."""
    emailed = {row["Id"] for row in books.open_invoices()}
    listed: list[JSONObject] = [
        item["invoice"] for item in collections(books)["invoices"] if item["invoice"]["invoice_id"] in emailed
    ]
    assert listed, "no overdue invoice with a billing email in the sandbox company"
    return listed[0]


def test_the_chase_list_ranks_the_overdue_invoices_with_reasons_expected_dates_and_amounts(books: Books) -> None:
    console = console_of(books)
    page = console.get("/chase")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    ranked = collections(books)["invoices"]
    assert ranked
    positions = []
    for item in ranked:
        invoice = item["invoice"]
        row = re.search(rf'<tr id="invoice-{invoice["invoice_id"]}">(.*?)</tr>', page.text, re.S)
        assert row, invoice["invoice_id"]
        said = text_of(row.group(1))
        assert said.startswith(f"{item['rank']}. {invoice['customer_name']}")
        assert text_of(item["reason"]) in said
        assert f"{plural(invoice['days_overdue'], 'day')} overdue" in said
        positions.append(page.text.index(f'<tr id="invoice-{invoice["invoice_id"]}">'))
    assert positions == sorted(positions)  # in the ranking's order
    assert 'aria-current="page">Chase<' in page.text
    assert "Remind or record" in text


def test_a_reminder_is_sent_once_per_form_and_refused_within_the_cool_down(books: Books) -> None:
    console = console_of(books)
    invoice = an_emailed_invoice(books)
    invoice_id = invoice["invoice_id"]
    panel = open_panel(console, invoice_id)
    form = {"idempotency_key": key_of(panel, invoice_id, "remind")}
    before = books.requests()

    sent = console.post(f"/chase/{invoice_id}/remind", form)
    assert sent.status_code == 200, sent.text
    twice = console.post(f"/chase/{invoice_id}/remind", form)
    assert twice.status_code == 200, twice.text

    assert (books.requests() - before)["invoice/send"] == 1
    said = text_of(sent.text)
    assert f"Reminder for {invoice['customer_name']}" in said
    assert f"QuickBooks Invoice {invoice_id}" in said
    assert "emailed to" in said
    assert "The customer's next reminder may go from" in said
    assert "nothing was done twice" in text_of(twice.text)

    # A new form for the same customer within three days: refused, saying until when, and nothing is sent.
    new_form = {"idempotency_key": key_of(open_panel(console, invoice_id), invoice_id, "remind")}
    again = console.post(f"/chase/{invoice_id}/remind", new_form)
    assert again.status_code == 200, again.text
    assert again.headers["hx-retarget"] == f"#invoice-{invoice_id}-remind-message"
    refusal = text_of(again.text)
    assert refusal.startswith("Not done:")
    assert "the next one may go from" in refusal
    assert (books.requests() - before)["invoice/send"] == 1


def test_a_payment_is_recorded_once_to_the_account_chosen_with_its_receipt(books: Books) -> None:
    console = console_of(books)
    invoice = collections(books)["invoices"][0]["invoice"]
    invoice_id = invoice["invoice_id"]
    part = (money(invoice["balance"]) / 4).quantize(Decimal("0.01"))
    panel = open_panel(console, invoice_id)
    assert books.bank_id() in panel  # a bank account to deposit to, beside Undeposited Funds
    form = {
        "amount": str(part),
        "deposit_to_account_id": books.bank_id(),
        "payment_date": input_value(panel, "payment_date"),
        "idempotency_key": key_of(panel, invoice_id, "payment"),
    }
    before = books.requests()

    recorded = console.post(f"/chase/{invoice_id}/payment", form)
    assert recorded.status_code == 200, recorded.text
    twice = console.post(f"/chase/{invoice_id}/payment", form)
    assert twice.status_code == 200, twice.text

    assert (books.requests() - before)["payment"] == 1
    (payment,) = books.our_writes("Payment")
    assert payment["DepositToAccountRef"]["value"] == books.bank_id()
    assert money(payment["TotalAmt"]) == part
    assert books.invoice_balance(invoice_id) == money(invoice["balance"]) - part
    for answer in (recorded, twice):
        assert f"QuickBooks Payment {payment['Id']}" in text_of(answer.text)
    assert "deposited to" in text_of(recorded.text)
    # The list shows what is still owed.
    row = re.search(rf'<tr id="invoice-{invoice_id}">(.*?)</tr>', recorded.text, re.S)
    assert row
    left = money(invoice["balance"]) - part
    assert f"${left:,.2f}" in text_of(row.group(1))


def test_undeposited_funds_is_the_default_deposit(books: Books) -> None:
    console = console_of(books)
    invoice = collections(books)["invoices"][-1]["invoice"]
    invoice_id = invoice["invoice_id"]
    panel = open_panel(console, invoice_id)
    form = {"amount": "12.00", "deposit_to_account_id": "", "idempotency_key": key_of(panel, invoice_id, "payment")}

    recorded = console.post(f"/chase/{invoice_id}/payment", form, htmx=False)
    assert recorded.status_code == 303, recorded.text
    assert recorded.headers["location"].startswith(f"/businesses/{books.business_id}/chase?action=")
    (payment,) = books.our_writes("Payment")
    deposited = books.company.read("Account", payment["DepositToAccountRef"]["value"])
    assert deposited["AccountSubType"] == "UndepositedFunds"


def test_refusals_name_the_field_and_write_nothing(books: Books) -> None:
    console = console_of(books)
    invoice = collections(books)["invoices"][0]["invoice"]
    invoice_id = invoice["invoice_id"]
    panel = open_panel(console, invoice_id)
    before = books.requests()
    for amount, says in (("12,00", "Amount:"), (str(money(invoice["balance"]) + 1), "more than")):
        form = {"amount": amount, "idempotency_key": key_of(panel, invoice_id, "payment")}
        answer = console.post(f"/chase/{invoice_id}/payment", form)
        assert answer.status_code == 200, answer.text
        assert says in text_of(answer.text)
    assert (books.requests() - before)["payment"] == 0


def test_viewers_get_no_buttons_advisors_plan_and_only_actors_send(books: Books, browsers: Browsers) -> None:
    invoice = an_emailed_invoice(books)
    invoice_id = invoice["invoice_id"]
    owner_panel = open_panel(console_of(books), invoice_id)
    form = {"idempotency_key": key_of(owner_panel, invoice_id, "remind")}

    viewer = console_of(books, member(books, browsers, "viewer"))
    page = viewer.get("/chase").text
    assert f'<tr id="invoice-{invoice_id}">' in page
    assert "Remind or record" not in page
    assert "hx-post" not in page
    assert viewer.post(f"/chase/{invoice_id}/remind", form).status_code == 403
    assert viewer.post(f"/chase/{invoice_id}/plan-items/reminder").status_code == 403

    advisor = console_of(books, member(books, browsers, "advisor"))
    panel = open_panel(advisor, invoice_id)
    assert "Send reminder" not in panel
    assert "Add the reminder to the plan" in panel
    assert advisor.post(f"/chase/{invoice_id}/remind", form).status_code == 403
    added = advisor.post(f"/chase/{invoice_id}/plan-items/reminder")
    assert added.status_code == 200, added.text
    assert "Added to a new draft plan" in text_of(added.text)
    (draft,) = books.get("/plans", status="draft").json()
    assert draft["items"] == 1
    assert books.requests()["invoice/send"] == 0
