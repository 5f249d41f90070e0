"""The plan, history and alerts pages over real HTTP against the sandbox: items gathered from the board and the chase
list, proposed by an advisor who cannot approve, approved by the owner as seen, executed with the section following
it until every item has its QuickBooks receipt; who did what in the history; drift alerts raised the real way, with
what to do, marked seen by an advisor and never by a viewer."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from oodaloo.domains.core.drift import DriftCheck, DriftReport
from oodaloo.domains.core.models import Business
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.runway.experiences.phrases import plural
from oodaloo.runway.monitoring import read_runway
from oodaloo.settings import Settings
from tests.runway.action_support import Books, JSONObject, money, today
from tests.runway.experiences.test_board_support import Console, console_of, member, served_midweek, text_of
from tests.support.qbo import Browser, Browsers, Served
from tests.support.waiting import until

FINISH_SECONDS = 60.0


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    """The served app and sandbox, the clock frozen at ``MIDWEEK`` (dates a test computes are the app's)."""
    yield from served_midweek(settings)


def bills_on_board(books: Books) -> list[JSONObject]:
    board: JSONObject = books.get("/bills/board").json()
    return [
        bill
        for column in ("must_pay", "can_delay")
        for window in board[column]["windows"]
        for vendor in window["vendors"]
        for bill in vendor["bills"]
    ]


def gather(books: Books, console: Console) -> dict[str, str]:
    """Through the pages: $40.00 of one bill paid, another planned a week later, a reminder; their ids, and the
    balance of the bill paid in part."""
    bills = sorted(bills_on_board(books), key=lambda bill: -money(bill["balance"]))
    paid, delayed = bills[0], bills[1]
    emailed = {row["Id"] for row in books.open_invoices()}
    ranked = books.get("/collections").json()["invoices"]
    invoice_id = next(row["invoice"]["invoice_id"] for row in ranked if row["invoice"]["invoice_id"] in emailed)
    planned = date.fromisoformat(delayed["decision"]["planned_pay_date"])
    later = (max(today(), planned) + timedelta(days=7)).isoformat()
    answers = [
        console.post(
            f"/bills/{paid['bill_id']}/plan-items/pay", {"amount": "40.00", "pay_from_account_id": books.bank_id()}
        ),
        console.post(f"/bills/{delayed['bill_id']}/plan-items/delay", {"planned_pay_date": later}),
        console.post(f"/chase/{invoice_id}/plan-items/reminder"),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert "draft plan" in text_of(answer.text)
    return {"paid": paid["bill_id"], "balance": paid["balance"], "delayed": delayed["bill_id"], "invoice": invoice_id}


def the_draft(books: Books) -> JSONObject:
    (draft,) = books.get("/plans", status="draft").json()
    plan: JSONObject = books.get(f"/plans/{draft['plan_id']}").json()
    return plan


def section(page: str, plan_id: str) -> str:
    match = re.search(rf'<section id="plan-{plan_id}".*?</section>', page, re.S)
    assert match, f"plan {plan_id} is not on the page"
    return match.group(0)


def finished_section(console: Console, plan_id: str) -> str:
    """The section, polled as the page polls it, until it stops asking to be polled."""

    def done() -> str | None:
        response = console.get(f"/plan/{plan_id}/section", htmx=True)
        assert response.status_code == 200, response.text
        return None if 'hx-trigger="every 1s"' in response.text else response.text

    return until(done, "the plan to finish", within=FINISH_SECONDS, poll_seconds=0.5)


def test_an_advisor_proposes_the_owner_approves_and_execution_ends_with_receipts(
    books: Books, browsers: Browsers
) -> None:
    advisor_browser = member(books, browsers, "advisor")
    advisor = console_of(books, advisor_browser)
    gathered = gather(books, advisor)
    plan = the_draft(books)
    plan_id = plan["plan_id"]

    page = advisor.get("/plan").text
    mine = section(page, plan_id)
    assert "Propose to the owner" in mine
    assert "Approve" not in text_of(mine)
    assert text_of(mine).count("waiting") == 3
    proposed = advisor.post(f"/plan/{plan_id}/propose")
    assert proposed.status_code == 200, proposed.text
    assert "Proposed, waiting for approval" in text_of(proposed.text)
    assert "Waiting for the owner's approval" in text_of(proposed.text)
    assert advisor.post(f"/plan/{plan_id}/approve", {"revision": str(plan["revision"])}).status_code == 403
    assert advisor.post(f"/plan/{plan_id}/execute").status_code == 403

    owner = console_of(books)
    theirs = section(owner.get("/plan").text, plan_id)
    assert "Approve" in text_of(theirs)
    assert "The items still to run, together: runway" in text_of(theirs)
    approved = owner.post(f"/plan/{plan_id}/approve", {"revision": str(plan["revision"])})
    assert approved.status_code == 200, approved.text
    assert "Approved, ready to execute" in text_of(approved.text)
    before = books.requests()
    executing = owner.post(f"/plan/{plan_id}/execute")
    assert executing.status_code == 200, executing.text
    assert "executing; each item's result shows as it lands." in text_of(executing.text)

    done = text_of(finished_section(owner, plan_id))
    assert "Finished" in done
    assert "3 of 3 done · 3 succeeded" in done
    # The poll that finds it finished says so where "executing" was said.
    assert "finished: 3 succeeded." in done
    result = books.get(f"/plans/{plan_id}").json()
    receipts = {item["kind"]: item["receipt"] for item in result["items"]}
    assert f"QuickBooks BillPayment {receipts['bill.pay']['qbo_id']}" in done
    assert f"QuickBooks Invoice {receipts['invoice.send_reminder']['qbo_id']}" in done
    during = books.requests() - before
    assert (during["billpayment"], during["invoice/send"]) == (1, 1)
    assert books.company.bill_balance(gathered["paid"]) == money(gathered["balance"]) - Decimal("40.00")

    history = text_of(owner.get("/history").text)
    assert "Plan proposed" in history
    assert advisor_browser.email in history
    assert books.owner.email in history
    assert f"BillPayment {receipts['bill.pay']['qbo_id']}" in history
    assert "Reminder for" in history


def test_a_plan_changed_since_it_was_seen_is_not_approved(books: Books, browsers: Browsers) -> None:
    owner = console_of(books)
    gather(books, owner)
    plan = the_draft(books)
    removed = owner.post(f"/plan/{plan['plan_id']}/items/{plan['items'][0]['item_id']}/remove")
    assert removed.status_code == 200, removed.text
    assert text_of(removed.text).count("waiting") == 2

    stale = owner.post(f"/plan/{plan['plan_id']}/approve", {"revision": str(plan["revision"])})
    assert stale.status_code == 200, stale.text
    assert stale.headers["hx-retarget"] == f"#plan-{plan['plan_id']}-message"
    assert "changed since you saw it" in text_of(stale.text)
    assert books.get(f"/plans/{plan['plan_id']}").json()["status"] == "draft"

    cancelled = owner.post(f"/plan/{plan['plan_id']}/cancel", {})
    assert cancelled.status_code == 200, cancelled.text
    assert "Cancelled" in text_of(cancelled.text)
    page = owner.get("/plan").text
    assert "No open plan" in text_of(page)
    assert "Recently finished or cancelled" in text_of(page)


def test_viewers_see_plans_without_buttons_and_are_refused(books: Books, browsers: Browsers) -> None:
    owner = console_of(books)
    gather(books, owner)
    plan = the_draft(books)
    viewer = console_of(books, member(books, browsers, "viewer"))
    page = viewer.get("/plan").text
    mine = section(page, plan["plan_id"])
    assert "<form" not in mine
    for move in ("propose", "approve", "execute", "cancel"):
        assert viewer.post(f"/plan/{plan['plan_id']}/{move}", {"revision": "1"}).status_code == 403, move
    assert books.get(f"/plans/{plan['plan_id']}").json()["status"] == "draft"


# ------------------------------------------------------------------------------------------------------ alerts
async def _check(database_url: str, business_id: str) -> DriftReport:
    database = Database(database_url)
    try:
        async with unit_of_work(database.sessionmaker) as session:
            business = await session.get(Business, uuid.UUID(business_id))
            assert business is not None
            return await DriftCheck(session, business, gauge=read_runway).run()
    finally:
        await database.dispose()


def drift_check(served: Served, books: Books) -> DriftReport:
    """The drift check, as the worker runs it after a sync."""
    return asyncio.run(_check(served.settings.database_url, books.business_id))


def test_drift_alerts_say_what_to_do_and_advisors_mark_them_seen(
    served: Served, books: Books, browsers: Browsers
) -> None:
    drift_check(served, books)  # the first check sees the books as they are
    usual = max(money(bill["balance"]) for bill in bills_on_board(books))
    large = books.company.new_bill(str((usual * 20).quantize(Decimal("0.01"))))
    books.sync()
    drift_check(served, books)

    viewer = console_of(books, member(books, browsers, "viewer"))
    page = viewer.get("/alerts")
    assert page.status_code == 200, page.text
    said = text_of(page.text)
    assert "Large new bill" in said
    assert "What to do:" in said
    assert f'href="/businesses/{books.business_id}/bills/{large["Id"]}"' in page.text
    assert "Mark as seen" not in said
    alert_id = re.search(r'<article id="alert-([0-9a-f-]+)"', page.text)
    assert alert_id
    assert viewer.post(f"/alerts/{alert_id.group(1)}/acknowledge").status_code == 403

    advisor_browser: Browser = member(books, browsers, "advisor")
    advisor = console_of(books, advisor_browser)
    assert "Mark as seen" in text_of(advisor.get("/alerts").text)
    seen = advisor.post(f"/alerts/{alert_id.group(1)}/acknowledge")
    assert seen.status_code == 200, seen.text
    assert f"seen by {advisor_browser.email}" in text_of(seen.text)
    assert "Large new bill" not in text_of(advisor.get("/alerts").text)
    assert "Large new bill" in text_of(advisor.get("/alerts", status="acknowledged").text)
    history = text_of(advisor.get("/history").text)
    assert "Alert acknowledged" in history
    still_open = len(books.get("/alerts").json())
    assert f"{plural(still_open, 'open alert')}." in history
