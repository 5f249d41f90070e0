"""The Must Pay / Can Delay board as a page, over real HTTP against the sandbox: every open bill in its column with its
reason and dates; a bill moved, re-planned or paid in part from its forms, each change's runway impact shown before
it is saved (the same figures as the API's what-if) and after; one QuickBooks write per form however often it is
sent; items gathered into the draft plan; and roles deciding who sees and may use which button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from oodaloo.domains.core.impact import ActionImpactOut
from oodaloo.runway.core.schemas import ImpactOut
from oodaloo.runway.experiences.board import ImpactView
from oodaloo.runway.experiences.phrases import money as money_phrase
from oodaloo.settings import Settings
from tests.runway.action_support import Books, JSONObject, money, today
from tests.runway.experiences.test_board_support import (
    Console,
    books_of,
    console_of,
    input_value,
    member,
    served_midweek,
    text_of,
)
from tests.support.qbo import Browsers, Served, new_business


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    """The served app and sandbox, the clock frozen at ``MIDWEEK`` (dates a test computes are the app's)."""
    yield from served_midweek(settings)


@pytest.fixture
def tight(served: Served, browsers: Browsers) -> Books:
    """A business whose runway ends within the 13 weeks: moving money moves it by days."""
    return books_of(served, browsers, "tight")


def board_bills(books: Books) -> dict[str, JSONObject]:
    board: JSONObject = books.get("/bills/board").json()
    return {
        bill["bill_id"]: bill
        for column in ("must_pay", "can_delay")
        for window in board[column]["windows"]
        for vendor in window["vendors"]
        for bill in vendor["bills"]
    }


def column_on_page(page: str, bill_id: str) -> str:
    match = re.search(rf'<tr id="bill-{re.escape(bill_id)}" data-column="(\w+)"', page)
    assert match, f"bill {bill_id} is not on the page"
    return match.group(1)


def a_bill_that_can_wait(books: Books, *, days_ahead: int = 7) -> JSONObject:
    """A Can Delay bill planned at least ``days_ahead`` days out, so it can be planned earlier and later."""
    bills = board_bills(books)
    waiting = [
        bill
        for bill in bills.values()
        if bill["decision"]["class"] == "can_delay"
        and date.fromisoformat(bill["decision"]["planned_pay_date"]) >= today() + timedelta(days=days_ahead)
    ]
    assert waiting, "the sandbox company has no bill that can wait"
    return max(waiting, key=lambda bill: money(bill["balance"]))


def api_impact(books: Books, changes: list[JSONObject]) -> ImpactView:
    response = books.post("/runway/impact", {"changes": changes})
    assert response.status_code == 200, response.text
    return ImpactView.of_whatif(ImpactOut.model_validate(response.json()))


def open_panel(console: Console, bill_id: str) -> str:
    response = console.get(f"/bills/{bill_id}/panel", htmx=True)
    assert response.status_code == 200, response.text
    return response.text


def plan_form(panel: str, bill_id: str, **values: str) -> dict[str, str]:
    return {
        "column": values.get("column", _selected(panel, f"bill-{bill_id}-column")),
        "planned_pay_date": values.get("planned_pay_date", input_value(panel, "planned_pay_date")),
        "shown_planned_pay_date": input_value(panel, "shown_planned_pay_date"),
        "idempotency_key": input_value(panel, "idempotency_key", within=f"bill-{bill_id}-plan-form"),
    }


def pay_form(panel: str, bill_id: str, books: Books, **values: str) -> dict[str, str]:
    return {
        "amount": values.get("amount", input_value(panel, "amount")),
        "pay_from_account_id": values.get("pay_from_account_id", books.bank_id()),
        "idempotency_key": input_value(panel, "idempotency_key", within=f"bill-{bill_id}-pay-form"),
    }


def _selected(page: str, select_id: str) -> str:
    start = page.index(f'id="{select_id}"')
    match = re.search(r'<option value="(\w+)" selected>', page[start:])
    assert match, f"nothing selected in {select_id}"
    return match.group(1)


def actions_of(books: Books, kind: str) -> list[JSONObject]:
    actions: list[JSONObject] = books.get("/actions", kind=kind).json()["actions"]
    return actions


# ------------------------------------------------------------------------------------------------------ the board
def test_every_open_bill_is_in_its_column_with_its_reason_and_dates(books: Books) -> None:
    console = console_of(books)
    page = console.get("/bills")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    bills = board_bills(books)
    assert bills
    for bill_id, bill in bills.items():
        assert column_on_page(page.text, bill_id) == bill["decision"]["class"]
        assert text_of(bill["decision"]["reason"]) in text
    assert 'aria-current="page">Bills<' in page.text
    assert "Plan or pay" in text


def test_moving_a_bill_changes_its_column_and_the_board_shows_it(books: Books) -> None:
    console = console_of(books)
    bill = a_bill_that_can_wait(books)
    panel = open_panel(console, bill["bill_id"])

    moved = console.post(f"/bills/{bill['bill_id']}/plan", plan_form(panel, bill["bill_id"], column="must_pay"))
    assert moved.status_code == 200, moved.text
    assert column_on_page(moved.text, bill["bill_id"]) == "must_pay"
    said = text_of(moved.text)
    assert f"{bill['vendor_name']}" in said
    assert "is now in Must Pay" in said
    # Only the column moved, not the date: the page says the runway stays as it is.
    assert "Its planned pay date did not move" in said
    after = board_bills(books)[bill["bill_id"]]
    assert (after["decision"]["class"], after["decision"]["rule"]) == ("must_pay", "user_override")
    assert after["decision"]["planned_pay_date"] == bill["decision"]["planned_pay_date"]
    assert column_on_page(console.get("/bills").text, bill["bill_id"]) == "must_pay"

    # "As the rules decide" takes the choice back.
    panel = open_panel(console, bill["bill_id"])
    assert "As the rules decide" in panel
    back = console.post(f"/bills/{bill['bill_id']}/plan", plan_form(panel, bill["bill_id"], column="rules"))
    assert back.status_code == 200, back.text
    assert column_on_page(back.text, bill["bill_id"]) == "can_delay"
    assert board_bills(books)[bill["bill_id"]]["decision"]["rule"] != "user_override"


def test_the_impact_preview_matches_the_api_what_if_and_saves_nothing(tight: Books) -> None:
    console = console_of(tight)
    bill = a_bill_that_can_wait(tight)
    bill_id = bill["bill_id"]
    panel = open_panel(console, bill_id)
    later = (date.fromisoformat(bill["decision"]["planned_pay_date"]) + timedelta(days=21)).isoformat()

    preview = console.post(f"/bills/{bill_id}/preview-plan", plan_form(panel, bill_id, planned_pay_date=later))
    assert preview.status_code == 200, preview.text
    expected = api_impact(tight, [{"action": "delay", "source_id": bill_id, "to": later}])
    assert expected.before_days is not None  # a tight company: the runway is within the horizon
    assert expected.headline in text_of(preview.text)

    part = (money(bill["balance"]) / 2).quantize(Decimal("0.01"))
    preview = console.post(f"/bills/{bill_id}/preview-pay", pay_form(panel, bill_id, tight, amount=str(part)))
    assert preview.status_code == 200, preview.text
    expected = api_impact(tight, [{"action": "pay", "source_id": bill_id, "amount": str(part)}])
    assert expected.headline in text_of(preview.text)
    assert "runway" in expected.headline
    assert "→" in expected.headline

    # Previews change nothing.
    assert board_bills(tight)[bill_id] == bill
    assert actions_of(tight, "bill.delay") == []
    assert actions_of(tight, "bill.pay") == []


def test_a_new_planned_date_is_saved_once_with_its_runway_impact(tight: Books) -> None:
    console = console_of(tight)
    bill = a_bill_that_can_wait(tight)
    bill_id = bill["bill_id"]
    later = date.fromisoformat(bill["decision"]["planned_pay_date"]) + timedelta(days=14)
    expected = api_impact(tight, [{"action": "delay", "source_id": bill_id, "to": later.isoformat()}])
    form = plan_form(open_panel(console, bill_id), bill_id, planned_pay_date=later.isoformat())

    saved = console.post(f"/bills/{bill_id}/plan", form)
    assert saved.status_code == 200, saved.text
    said = text_of(saved.text)
    assert f"New planned pay date for {bill['vendor_name']}" in said
    assert expected.headline in said  # the action's own estimate, before it ran, says what the what-if said
    assert board_bills(tight)[bill_id]["decision"]["planned_pay_date"] == later.isoformat()

    # The same form sent again does nothing more, and says so.
    again = console.post(f"/bills/{bill_id}/plan", form)
    assert again.status_code == 200, again.text
    assert "nothing was done twice" in text_of(again.text)
    assert len(actions_of(tight, "bill.delay")) == 1


def test_paying_part_of_a_bill_is_one_quickbooks_write_with_a_receipt(books: Books) -> None:
    console = console_of(books)
    bill = a_bill_that_can_wait(books, days_ahead=0)
    bill_id = bill["bill_id"]
    part = (money(bill["balance"]) / 3).quantize(Decimal("0.01"))
    form = pay_form(open_panel(console, bill_id), bill_id, books, amount=str(part))
    before = books.requests()

    paid = console.post(f"/bills/{bill_id}/pay", form)
    assert paid.status_code == 200, paid.text
    twice = console.post(f"/bills/{bill_id}/pay", form)  # a double submit: the form's key makes it one payment
    assert twice.status_code == 200, twice.text

    assert (books.requests() - before)["billpayment"] == 1
    (payment,) = books.company.payments_of_bill(bill_id)
    assert money(payment["TotalAmt"]) == part
    assert books.company.bill_balance(bill_id) == money(bill["balance"]) - part
    for answer in (paid, twice):
        said = text_of(answer.text)
        assert f"QuickBooks BillPayment {payment['Id']}" in said
        assert "done" in said
    assert "nothing was done twice" in text_of(twice.text)
    # The board shows what is left to pay.
    row = re.search(rf'<tr id="bill-{bill_id}".*?</tr>', paid.text, re.S)
    assert row
    assert money_phrase(money(bill["balance"]) - part, "USD") in text_of(row.group(0))


def test_without_scripts_a_form_goes_back_to_the_board_showing_its_receipt(books: Books) -> None:
    console = console_of(books)
    bill = a_bill_that_can_wait(books, days_ahead=0)
    bill_id = bill["bill_id"]
    form = pay_form(open_panel(console, bill_id), bill_id, books, amount="10.00")

    posted = console.post(f"/bills/{bill_id}/pay", form, htmx=False)
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    assert location.startswith(f"/businesses/{books.business_id}/bills?action=")
    (payment,) = books.company.payments_of_bill(bill_id)
    back = console.get(location.removeprefix(console.base))
    assert back.status_code == 200, back.text
    assert f"QuickBooks BillPayment {payment['Id']}" in text_of(back.text)

    # The bill's own page carries the same forms; a preview comes back to it, a move goes back to the board.
    own = console.get(f"/bills/{bill_id}")
    assert own.status_code == 200, own.text
    form = plan_form(own.text, bill_id, column="must_pay")
    previewed = console.post(f"/bills/{bill_id}/preview-plan", form, htmx=False)
    assert previewed.status_code == 200, previewed.text
    assert "If you save this: it moves to Must Pay" in text_of(previewed.text)
    moved = console.post(f"/bills/{bill_id}/plan", form, htmx=False)
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"{console.base}/bills?moved={bill_id}#result"
    board = console.get(f"/bills?moved={bill_id}")
    assert "is now in Must Pay" in text_of(board.text)
    assert column_on_page(board.text, bill_id) == "must_pay"


def test_changes_gather_in_one_draft_plan_with_the_combined_impact(tight: Books) -> None:
    console = console_of(tight)
    bill = a_bill_that_can_wait(tight)
    bill_id = bill["bill_id"]
    panel = open_panel(console, bill_id)
    later = (date.fromisoformat(bill["decision"]["planned_pay_date"]) + timedelta(days=10)).isoformat()

    first = console.post(f"/bills/{bill_id}/plan-items/delay", {"planned_pay_date": later})
    assert first.status_code == 200, first.text
    assert "Added to a new draft plan" in text_of(first.text)
    second = console.post(f"/bills/{bill_id}/plan-items/pay", {**pay_form(panel, bill_id, tight, amount="50.00")})
    assert second.status_code == 200, second.text

    (draft,) = tight.get("/plans", status="draft").json()
    plan = tight.get(f"/plans/{draft['plan_id']}").json()
    assert [(item["kind"], item["request"]["bill_id"]) for item in plan["items"]] == [
        ("bill.delay", bill_id),
        ("bill.pay", bill_id),
    ]
    said = text_of(second.text)
    assert f"Added to the draft plan {plan['title']} (2 items)" in said
    preview = tight.get(f"/plans/{draft['plan_id']}/impact").json()["impact"]
    assert ImpactView.of_action(ActionImpactOut.model_validate(preview)).headline in said
    # Nothing ran: the bill is planned and owed as before.
    assert board_bills(tight)[bill_id] == bill
    assert "Draft plan" in text_of(console.get("/bills").text)


# ------------------------------------------------------------------------------------------------------ refusals
def test_input_the_books_do_not_allow_is_refused_in_the_form_naming_it(books: Books) -> None:
    console = console_of(books)
    bill = a_bill_that_can_wait(books, days_ahead=0)
    bill_id = bill["bill_id"]
    panel = open_panel(console, bill_id)
    before = books.requests()

    cases: list[tuple[str, dict[str, str], str]] = [
        ("pay", pay_form(panel, bill_id, books, amount="1,000"), "Amount: amount must be a plain decimal"),
        ("pay", pay_form(panel, bill_id, books, amount=str(money(bill["balance"]) + 1)), "more than"),
        ("preview-pay", pay_form(panel, bill_id, books, amount="abc"), "Amount:"),
        ("plan", plan_form(panel, bill_id, planned_pay_date="2001-01-01"), "planned_pay_date"),
        ("plan", plan_form(panel, bill_id, column="sometimes"), "Column: choose Must Pay or Can Delay"),
    ]
    for path, form, says in cases:
        answer = console.post(f"/bills/{bill_id}/{path}", form)
        assert answer.status_code == 200, answer.text
        assert answer.headers["hx-retarget"].startswith(f"#bill-{bill_id}-")
        said = text_of(answer.text)
        assert said.startswith("Not done:"), (path, said)
        assert says in said, (path, said)
    assert (books.requests() - before)["billpayment"] == 0
    assert board_bills(books)[bill_id] == bill


def test_a_form_without_this_browser_s_token_is_refused(books: Books) -> None:
    console = console_of(books)
    bill = a_bill_that_can_wait(books, days_ahead=0)
    form = pay_form(open_panel(console, bill["bill_id"]), bill["bill_id"], books, amount="10.00")
    forged = console.browser.client.post(
        f"{console.base}/bills/{bill['bill_id']}/pay",
        data={**form, "csrf_token": "forged"},
        headers={"Accept": "text/html", "Cookie": f"oodaloo_session={console.browser.session}"},
    )
    assert forged.status_code == 403
    assert books.company.payments_of_bill(bill["bill_id"]) == []


def test_roles_decide_the_buttons_and_what_may_be_posted(books: Books, browsers: Browsers) -> None:
    bill = a_bill_that_can_wait(books, days_ahead=0)
    bill_id = bill["bill_id"]
    owner = console_of(books)
    owner_panel = open_panel(owner, bill_id)
    assert "Pay now in QuickBooks" in owner_panel

    viewer = console_of(books, member(books, browsers, "viewer"))
    page = viewer.get("/bills").text
    assert column_on_page(page, bill_id) == bill["decision"]["class"]
    assert "Plan or pay" not in page
    assert f'action="/businesses/{books.business_id}' not in page
    assert "hx-post" not in page
    for path, form in [
        ("plan", plan_form(owner_panel, bill_id)),
        ("pay", pay_form(owner_panel, bill_id, books, amount="5.00")),
        ("plan-items/pay", pay_form(owner_panel, bill_id, books, amount="5.00")),
    ]:
        refused = viewer.post(f"/bills/{bill_id}/{path}", form)
        assert refused.status_code == 403, (path, refused.text)

    advisor = console_of(books, member(books, browsers, "advisor"))
    panel = open_panel(advisor, bill_id)
    assert "Add this payment to the plan" in panel
    assert "Pay now in QuickBooks" not in panel
    refused = advisor.post(f"/bills/{bill_id}/pay", pay_form(panel, bill_id, books, amount="5.00"))
    assert refused.status_code == 403
    assert "propose" in refused.text.lower() or "act" in refused.text.lower()
    assert books.company.payments_of_bill(bill_id) == []


def test_before_the_first_sync_the_pages_say_why_they_are_empty(browsers: Browsers) -> None:
    owner = browsers.sign_up("unsynced")
    console = Console(owner, new_business(owner))
    for path in ("/bills", "/chase"):
        page = console.get(path)
        assert page.status_code == 200, page.text
        assert "QuickBooks data has not been copied yet" in text_of(page.text)
    assert "No open plan" in text_of(console.get("/plan").text)
    assert "No action yet" in text_of(console.get("/history").text)
