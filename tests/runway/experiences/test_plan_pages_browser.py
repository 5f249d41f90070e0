"""The board-to-receipts loop in a real browser (Debian's Chromium): open the board, delay a bill and see its impact,
add it and part of a payment to the plan, approve, execute and watch the receipts arrive; screenshots of each step.
The console's action pages also pass an axe-core scan (no serious or critical violation) and do not overflow a
390 px wide phone screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Page, ViewportSize, expect

from oodaloo.settings import Settings
from tests.runway.action_support import Books, JSONObject, money, today
from tests.runway.experiences.test_board_support import artifacts_dir, books_of, served_midweek
from tests.support.browser import chromium
from tests.support.qbo import Browsers, Served

STEP_TIMEOUT_MS = 30_000
FINISH_TIMEOUT_MS = 60_000
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 900}
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    """The served app and sandbox, the clock frozen at ``MIDWEEK`` (dates a test computes are the app's)."""
    yield from served_midweek(settings)


def a_bill_that_can_wait(books: Books) -> JSONObject:
    board: JSONObject = books.get("/bills/board").json()
    waiting = [
        bill for window in board["can_delay"]["windows"] for vendor in window["vendors"] for bill in vendor["bills"]
    ]
    assert waiting, "the sandbox company has no bill that can wait"
    return max(waiting, key=lambda bill: money(bill["balance"]))


def signed_in(page: Page, served: Served, books: Books) -> None:
    page.context.add_cookies([{"name": "oodaloo_session", "value": books.owner.session, "url": served.app}])


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    violations: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return [violation for violation in violations if violation.get("impact") in SERIOUS]


def test_delay_a_bill_add_it_to_the_plan_approve_execute_and_see_the_receipts(
    served: Served, browsers: Browsers
) -> None:
    books = books_of(served, browsers, "tight")
    bill = a_bill_that_can_wait(books)
    bill_id = bill["bill_id"]
    later = (max(today(), date.fromisoformat(bill["decision"]["planned_pay_date"])) + timedelta(days=14)).isoformat()
    folder = artifacts_dir("console-plan-loop")
    base = f"{served.app}/businesses/{books.business_id}"

    with chromium() as browser:
        page = browser.new_page(viewport=LAPTOP)
        page.set_default_timeout(STEP_TIMEOUT_MS)
        signed_in(page, served, books)

        page.goto(f"{base}/bills")
        expect(page.get_by_role("heading", name="Bills: Must Pay / Can Delay")).to_be_visible()
        shot(page, folder, "1-board")

        page.locator(f"#bill-{bill_id}").get_by_role("link", name="Plan or pay").click()
        panel = page.locator(f"#bill-{bill_id}-panel")
        expect(panel).to_be_visible()
        expect(page.locator(f"#bill-{bill_id}-column")).to_be_focused()  # the panel takes the focus
        page.fill(f"#bill-{bill_id}-date", later)
        panel.get_by_role("button", name="Preview impact").first.click()
        impact = page.locator(f"#bill-{bill_id}-plan-impact")
        expect(impact).to_contain_text("If you save this:")
        expect(impact).to_contain_text("runway")
        shot(page, folder, "2-impact-shown")

        panel.get_by_role("button", name="Add this date to the plan").click()
        expect(impact).to_contain_text("Added to a new draft plan")
        page.fill(f"#bill-{bill_id}-amount", "25.00")
        panel.get_by_role("button", name="Add this payment to the plan").click()
        expect(page.locator(f"#bill-{bill_id}-pay-impact")).to_contain_text("(2 items)")
        expect(page.locator("#draft-plan")).to_contain_text("2 items")
        shot(page, folder, "3-added-to-plan")

        page.locator(f"#bill-{bill_id}-pay-impact").get_by_role("link", name="Review the plan").click()
        expect(page.get_by_role("heading", name="Plan", exact=True)).to_be_visible()
        plan = page.locator("section.panel").first
        expect(plan).to_contain_text("The items still to run, together: runway")
        shot(page, folder, "4-plan")

        plan.get_by_role("button", name="Approve").click()
        expect(plan).to_contain_text("Approved, ready to execute", timeout=STEP_TIMEOUT_MS)
        shot(page, folder, "5-approved")

        plan.get_by_role("button", name="Execute in QuickBooks").click()
        expect(plan).to_contain_text("2 of 2 done", timeout=FINISH_TIMEOUT_MS)
        expect(plan).to_contain_text("Finished")
        payment = next(p for p in books.company.payments_of_bill(bill_id))
        expect(plan).to_contain_text(f"QuickBooks BillPayment {payment['Id']}")
        shot(page, folder, "6-receipts")

        # Every action page: no serious or critical accessibility violation, nothing wider than a phone.
        for path in ("/bills", "/chase", "/plan", "/history", "/alerts", f"/bills/{bill_id}"):
            page.set_viewport_size(LAPTOP)
            page.goto(f"{base}{path}")
            assert serious_violations(page) == [], path
            page.set_viewport_size(PHONE)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} overflows a {PHONE['width']} px screen by {overflow} px"
        shot(page, folder, "7-history-on-a-phone")
    assert books.company.bill_balance(bill_id) == money(bill["balance"]) - money("25.00")
