"""Issue #9's acceptance walk, in a real browser (Debian's Chromium through Playwright) against the embedded default —
the QBO sandbox mounted in the app, jobs in-process — served on a port of its own:

- an owner signs up, creates a business, connects QuickBooks (the sandbox's OAuth consent and callback), watches the
  first sync and lands on the console; delays one bill and pays another on the board (each change's runway impact
  shown before it is saved), gathers both into a plan, approves and executes it, reads the receipts (checked against
  QuickBooks' side), and finds the console's cash, runway, chart and prep tray moved as those actions imply;
- an advisor added to a business finds it in their portfolio, proposes a plan, and the owner approves and executes it;
- a visitor without an account test-drives a demo scenario and lands on its console.

On every page: a screenshot (test artifacts), an axe-core scan (nothing serious or critical) and no sideways
scrolling at 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect

from oodaloo.main import sandbox_config
from oodaloo.runway.experiences.phrases import day, money, weeks_and_days
from tests.conftest import new_database_url, unique_email
from tests.domains.qbo.mirror_support import Realm
from tests.support.browser import chromium
from tests.support.credentials import TEST_PASSWORD
from tests.support.pages import (
    LAPTOP,
    EmbeddedApp,
    assert_accessible,
    assert_no_horizontal_overflow,
    embedded_settings_for,
    laptop,
    phone,
    screenshot,
    serve_embedded,
)
from tests.support.qbo import Browsers, SandboxCompany, Served, connect, new_business

pytestmark = pytest.mark.slow
JSON = dict[str, Any]
PAGE_MS = 30_000
EXPECT_DEFAULT_MS = 5_000  # Playwright's own
# The first sync of the demo company and a plan's execution, on a loaded two-core machine: bounded, generous.
FIRST_SYNC_MS = 180_000
EXECUTE_MS = 90_000
# Sandbox latency while the first sync's page is looked at, so that the copy is still running when it is.
SLOW_SANDBOX_MS = 200
OWNER_NAME = "Dana Whitfield"
ADVISOR_NAME = "Priya Raman"
BUSINESS_NAME = "Harbor & Finch Design"
_MINUS = "\u2212"


# ------------------------------------------------------------------------------------------------- the app
@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[EmbeddedApp]:
    """The embedded default, its sandbox's demo company a tight one (bills to weigh, invoices to chase)."""
    folder = tmp_path_factory.mktemp("walkthrough")
    database_url = new_database_url(folder, f"oodaloo_test_{worker_id}_walkthrough")
    settings_for = embedded_settings_for(folder, database_url, sandbox_scenario="tight", test_drive_pool_size=0)
    with serve_embedded(settings_for) as served:
        yield served


@pytest.fixture(scope="module")
def browser(app: EmbeddedApp) -> Iterator[Chromium]:
    # What a page shows after a click may take seconds on a loaded machine: expectations wait as long as pages do.
    expect.set_options(timeout=PAGE_MS)
    try:
        with chromium() as launched:
            yield launched
    finally:
        expect.set_options(timeout=EXPECT_DEFAULT_MS)


def new_page(browser: Chromium, app: EmbeddedApp, session: str | None = None) -> Page:
    context = browser.new_context(viewport=LAPTOP)
    if session is not None:
        context.add_cookies([{"name": "oodaloo_session", "value": session, "url": app.url}])
    page = context.new_page()
    page.set_default_timeout(PAGE_MS)
    return page


# ------------------------------------------------------------------------------------------- each page's checks
def check(page: Page, step: str) -> None:
    """A step's page: its screenshot, axe-core's scan, and no sideways scrolling on a 390 px phone (screenshot too)."""
    page.wait_for_load_state("networkidle")
    screenshot(page, step)
    assert_accessible(page)
    phone(page)
    try:
        assert_no_horizontal_overflow(page)
        screenshot(page, f"{step}-phone")
    finally:
        laptop(page)


def api(page: Page, path: str) -> Any:
    """What the JSON API says to the person signed in on ``page`` (the same cookies)."""
    response = page.request.get(f"{origin(page)}{path}")
    assert response.ok, f"{path}: {response.status} {response.text()}"
    return response.json()


def api_post(page: Page, path: str, body: JSON) -> Any:
    response = page.request.post(f"{origin(page)}{path}", data=body)
    assert response.ok, f"{path}: {response.status} {response.text()}"
    return response.json()


def origin(page: Page) -> str:
    match = re.match(r"https?://[^/]+", page.url)
    assert match is not None
    return match.group(0)


def amount(text: str) -> Decimal:
    """A figure as the console writes it (``$12,345.67``, or with a minus sign before the currency) as a Decimal."""
    cleaned = text.strip().replace("\u2060", "").replace(_MINUS, "-").replace("$", "").replace(",", "")
    return Decimal(cleaned)


def runway_words(runway: JSON) -> str:
    """The overview's runway figure for the API's runway."""
    days = runway["runway"]["days"]
    if days is None:
        return f"Beyond {len(runway['weeks'])} weeks"
    return "None" if days == 0 else weeks_and_days(days)


def chart_outflows(page: Page) -> dict[int, Decimal]:
    """Each week's cash out, from the table beside the chart (what a screen reader reads of it)."""
    outflows: dict[int, Decimal] = {}
    for row in page.locator("figure.chart table tbody tr").all():
        week = int(re.match(r"\d+", row.locator("th").text_content() or "").group(0))  # type: ignore[union-attr]
        outflows[week] = amount(row.locator("td").nth(2).text_content() or "")
    return outflows


def week_of(runway: JSON, on: date) -> int | None:
    for week in runway["weeks"]:
        if date.fromisoformat(week["start"]) <= on <= date.fromisoformat(week["end"]):
            return int(week["number"])
    return None


def outflow_items(page: Page, base: str, weeks: int) -> dict[tuple[int, str, str], Decimal]:
    """Every outflow of the forecast by (week, kind, source): what each week's cash out is made of."""
    found: dict[tuple[int, str, str], Decimal] = {}
    for number in range(1, weeks + 1):
        for item in api(page, f"{base}/runway/weeks/{number}")["items"]:
            if item["direction"] == "outflow":
                key = (number, item["kind"], item["source_id"])
                found[key] = found.get(key, Decimal(0)) + Decimal(item["amount"])
    return found


def changes(before: dict[Any, Decimal], after: dict[Any, Decimal]) -> dict[Any, Decimal]:
    """What moved between two sets of amounts, key by key (absent counts as zero)."""
    moved = {key: after.get(key, Decimal(0)) - before.get(key, Decimal(0)) for key in before.keys() | after.keys()}
    return {key: change for key, change in moved.items() if change}


def open_overview(page: Page, business_id: str) -> None:
    page.goto(f"{origin(page)}/businesses/{business_id}")
    page.locator("#tray #hygiene-score").wait_for()  # the prep tray, loaded by htmx


def board_bills(board: JSON, column: str) -> list[JSON]:
    return [bill for window in board[column]["windows"] for vendor in window["vendors"] for bill in vendor["bills"]]


def impact_words(impact: JSON) -> list[str]:
    """What the console's impact line must say of ``impact`` (an ImpactOut or ActionImpactOut)."""
    words: list[str] = []
    change = impact["change_days"]
    if change is not None:
        words.append(" (no change)" if change == 0 else f"({change:+d} {'day' if abs(change) == 1 else 'days'})")
    before, after = Decimal(impact["lowest_free_cash_before"]), Decimal(impact["lowest_free_cash_after"])
    if before != after:
        words.append(f"lowest free cash {money(before)} → {money(after)}")
    return words


def set_latency(app: EmbeddedApp, milliseconds: int) -> None:
    httpx.post(f"{app.sandbox}/_sandbox/faults", json={"latency_ms": milliseconds}).raise_for_status()


# ------------------------------------------------------------------------------------------- the owner's walk
def sign_up(page: Page, app: EmbeddedApp, name: str) -> str:
    email = unique_email(name.split()[0].lower())
    page.goto(f"{app.url}/signup")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    check(page, "sign-up")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{app.url}/onboarding/business")
    return email


def create_business(page: Page, app: EmbeddedApp) -> str:
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a business")
    check(page, "create-business")
    page.get_by_label("Business name").fill(BUSINESS_NAME)
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_role("button", name="Create business").click()
    page.wait_for_url(re.compile(r"/businesses/[0-9a-f-]{36}/connection$"))
    business_id = page.url.rsplit("/", 2)[-2]
    [business] = api(page, "/api/businesses")
    assert (business["id"], business["name"], business["role"]) == (business_id, BUSINESS_NAME, "owner")
    return business_id


def connect_and_first_sync(page: Page, app: EmbeddedApp, business_id: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("QuickBooks connection")
    expect(page.locator("main")).to_contain_text("What connecting does")
    check(page, "connect")
    set_latency(app, SLOW_SANDBOX_MS)  # the copy runs while its page is looked at
    try:
        # Off to QuickBooks' consent (the mounted sandbox) and back through the OAuth callback.
        page.get_by_role("button", name="Connect QuickBooks").first.click()
        page.wait_for_url(f"{app.url}/businesses/{business_id}/first-sync")
        expect(page.get_by_role("heading", level=1)).to_have_text("Copying your books from QuickBooks")
        expect(page.locator("#first-sync-summary")).to_contain_text("Copying…")
        check(page, "first-sync")
    finally:
        set_latency(app, 0)
    connection = api(page, f"/api/businesses/{business_id}/qbo/connection")
    assert (connection["status"], connection["realm_id"]) == ("connected", sandbox_config(app.settings).realm_id)
    # htmx polls the progress and moves on to the console by itself once the copy is done.
    page.wait_for_url(f"{app.url}/businesses/{business_id}", timeout=FIRST_SYNC_MS)


def test_an_owner_signs_up_connects_and_runs_the_friday_loop(app: EmbeddedApp, browser: Chromium) -> None:
    page = new_page(browser, app)
    sign_up(page, app, OWNER_NAME)
    business_id = create_business(page, app)
    connect_and_first_sync(page, app, business_id)
    base = f"/api/businesses/{business_id}"

    # The console: cash, runway, the chart and the prep tray, as the API has them.
    page.locator("#tray #hygiene-score").wait_for()
    runway = api(page, f"{base}/runway")
    expect(page.locator("#cash-today")).to_have_text(money(Decimal(runway["starting_cash"])))
    expect(page.locator("#runway-figure")).to_have_text(runway_words(runway))
    expect(page.locator("svg.runway-chart")).to_be_visible()
    check(page, "console")
    cash_before = amount(page.locator("#cash-today").inner_text())
    outflows_before = chart_outflows(page)
    assert outflows_before == {week["number"]: Decimal(week["outflows"]) for week in runway["weeks"]}
    items_before = outflow_items(page, base, len(runway["weeks"]))
    today = date.fromisoformat(runway["as_of"])

    # What to act on: a bill due within the week the tray lists (paid in full), and the largest bill that can wait.
    tray = api(page, f"{base}/tray")
    board = api(page, f"{base}/bills/board")
    open_bills = {bill["bill_id"]: bill for column in ("must_pay", "can_delay") for bill in board_bills(board, column)}
    due = [item["key"].removeprefix("bill:") for item in tray["items"] if item["kind"] == "bill_due"]
    paid = open_bills[next(bill_id for bill_id in due if bill_id in open_bills)]
    delayed = max(
        (bill for bill in board_bills(board, "can_delay") if bill["bill_id"] != paid["bill_id"]),
        key=lambda bill: Decimal(bill["balance"]),
    )
    assert page.locator(f'#tray li.tray-item[data-key="bill:{paid["bill_id"]}"]').count() == 1
    planned = date.fromisoformat(delayed["decision"]["planned_pay_date"])
    later = planned + timedelta(days=14)

    # The board: delay one bill, seeing its impact before anything is saved.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Bills").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bills: Must Pay / Can Delay")
    check(page, "bills")
    bill_row = page.locator(f"#bill-{delayed['bill_id']}")
    bill_row.get_by_role("link", name="Plan or pay").click()
    panel = page.locator(f"#bill-{delayed['bill_id']}-panel")
    page.fill(f"#bill-{delayed['bill_id']}-date", later.isoformat())
    panel.get_by_role("button", name="Preview impact").first.click()
    impact = page.locator(f"#bill-{delayed['bill_id']}-plan-impact")
    expect(impact).to_contain_text(f"If you save this: paid on {day(later)}")
    whatif = api_post(
        page,
        f"{base}/runway/impact",
        {"changes": [{"action": "delay", "source_id": delayed["bill_id"], "to": later.isoformat()}]},
    )
    for words in impact_words(whatif):
        expect(impact).to_contain_text(words)
    check(page, "delay-impact")

    # ... add it to a plan, with the other bill's payment in full.
    panel.get_by_role("button", name="Add this date to the plan").click()
    expect(impact).to_contain_text("Added to a new draft plan")
    page.locator(f"#bill-{paid['bill_id']}").get_by_role("link", name="Plan or pay").click()
    pay_panel = page.locator(f"#bill-{paid['bill_id']}-panel")
    expect(page.locator(f"#bill-{paid['bill_id']}-amount")).to_have_value(paid["balance"])
    pay_panel.get_by_role("button", name="Add this payment to the plan").click()
    pay_impact = page.locator(f"#bill-{paid['bill_id']}-pay-impact")
    expect(pay_impact).to_contain_text("(2 items)")
    expect(page.locator("#draft-plan")).to_contain_text("2 items")
    check(page, "added-to-plan")

    # The plan: what it does to the runway together; approve; execute; receipts.
    pay_impact.get_by_role("link", name="Review the plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan")
    section = page.locator("section.panel").first
    plan_id = (section.get_attribute("id") or "").removeprefix("plan-")
    preview = api(page, f"{base}/plans/{plan_id}/impact")
    expect(section).to_contain_text("2 items")
    expect(section).to_contain_text("The items still to run, together: runway")
    for words in impact_words(preview["impact"]):
        expect(section).to_contain_text(words)
    check(page, "plan")
    section.get_by_role("button", name="Approve").click()
    expect(section).to_contain_text("Approved, ready to execute")
    expect(section).to_contain_text(f"approved by {OWNER_NAME}")
    check(page, "approved")
    section.get_by_role("button", name="Execute in QuickBooks").click()
    expect(section).to_contain_text("2 of 2 done", timeout=EXECUTE_MS)
    expect(section).to_contain_text("Finished")
    company = SandboxCompany(app.sandbox, sandbox_config(app.settings).realm_id)
    [payment] = company.payments_of_bill(paid["bill_id"])
    assert Decimal(str(payment["TotalAmt"])) == Decimal(paid["balance"])
    assert company.bill_balance(paid["bill_id"]) == 0
    expect(section).to_contain_text(f"QuickBooks BillPayment {payment['Id']}")
    expect(section.locator("tbody tr", has_text="Plan to pay")).to_contain_text("saved")
    check(page, "receipts")

    # Who did what: the history.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="History").click()
    actions = page.locator("section[aria-labelledby='actions-heading']")
    expect(actions).to_contain_text(f"BillPayment {payment['Id']}")
    expect(actions.locator("tbody tr").first).to_contain_text(OWNER_NAME)
    check(page, "history")

    # The console again: cash down by the payment, the runway where the plan said, the delayed bill moved in the
    # chart, and the paid bill gone from the prep tray.
    open_overview(page, business_id)
    after = api(page, f"{base}/runway")
    expect(page.locator("#cash-today")).to_have_text(money(cash_before - Decimal(paid["balance"])))
    expect(page.locator("#runway-figure")).to_have_text(runway_words(after))
    # The chart moved exactly by what the forecast's items did: the two bills as the plan implies, and nothing else
    # but recurring outflows (a payment is history the forecast learns recurring items from).
    items_after = outflow_items(page, base, len(after["weeks"]))
    moved = changes(items_before, items_after)
    bills_moved = {key: change for key, change in moved.items() if key[1] == "bill"}
    implied = {
        (
            week_of(runway, max(date.fromisoformat(paid["decision"]["planned_pay_date"]), today)),
            "bill",
            paid["bill_id"],
        ): -Decimal(paid["balance"]),
        (week_of(runway, max(planned, today)), "bill", delayed["bill_id"]): -Decimal(delayed["balance"]),
        (week_of(runway, later), "bill", delayed["bill_id"]): Decimal(delayed["balance"]),
    }
    assert bills_moved == {key: change for key, change in implied.items() if key[0] is not None}
    assert {kind for _, kind, _ in moved} <= {"bill", "recurring"}, moved
    expected = dict(outflows_before)
    for (week, _, _), change in moved.items():
        expected[week] += change
    assert chart_outflows(page) == expected
    assert after["runway"]["days"] == preview["impact"]["after"]["days"]
    expect(page.locator(f'#tray li.tray-item[data-key="bill:{paid["bill_id"]}"]')).to_have_count(0)
    check(page, "console-after")


# --------------------------------------------------------------------------------- the advisor and the owner
def connected_business(app: EmbeddedApp) -> tuple[str, str]:
    """An owner (signed up through the API) and a business connected to a tight company of its own."""
    browsers = Browsers(Served(app.url, app.sandbox, app.settings))
    try:
        owner = browsers.sign_up("walk-owner")
        business_id = new_business(owner, "America/New_York")
        realm = Realm.create(app.sandbox, scenario="tight")
        connect(owner, business_id, app.settings.qbo_redirect_uri, realm.realm_id)
        return owner.session, business_id
    finally:
        browsers.close()


def test_an_advisor_proposes_a_plan_and_the_owner_approves_it(app: EmbeddedApp, browser: Chromium) -> None:
    owner_session, business_id = connected_business(app)
    base = f"/api/businesses/{business_id}"
    owner = new_page(browser, app, owner_session)
    owner.goto(f"{app.url}/businesses/{business_id}/first-sync")
    owner.wait_for_url(f"{app.url}/businesses/{business_id}", timeout=FIRST_SYNC_MS)

    # The advisor signs up; the owner adds them to the business as its advisor.
    advisor = new_page(browser, app)
    advisor_email = sign_up(advisor, app, ADVISOR_NAME)
    added = owner.request.post(f"{app.url}{base}/members", data={"email": advisor_email, "role": "advisor"})
    assert added.status == 201, added.text()

    # Their portfolio lists the client, with its runway and cash as the console has them.
    runway = api(owner, f"{base}/runway")
    name = api(owner, base)["name"]  # the company's own name, once synced
    advisor.goto(f"{app.url}/portfolio")
    row = advisor.locator(f"#client-{business_id}")
    expect(row).to_contain_text(name)
    expect(row).to_contain_text(money(Decimal(runway["starting_cash"])))
    days = runway["runway"]["days"]
    expect(row).to_contain_text("over 13 weeks" if days is None else weeks_and_days(days))
    check(advisor, "portfolio")

    # They open its console from there, and propose delaying the largest bill that can wait.
    row.get_by_role("link", name=name).click()
    advisor.wait_for_url(f"{app.url}/businesses/{business_id}")
    advisor.locator("#tray #hygiene-score").wait_for()
    check(advisor, "advisor-console")
    board = api(advisor, f"{base}/bills/board")
    bill = max(board_bills(board, "can_delay"), key=lambda b: Decimal(b["balance"]))
    later = date.fromisoformat(bill["decision"]["planned_pay_date"]) + timedelta(days=7)
    advisor.goto(f"{app.url}/businesses/{business_id}/bills")
    advisor.locator(f"#bill-{bill['bill_id']}").get_by_role("link", name="Plan or pay").click()
    advisor.fill(f"#bill-{bill['bill_id']}-date", later.isoformat())
    panel = advisor.locator(f"#bill-{bill['bill_id']}-panel")
    panel.get_by_role("button", name="Add this date to the plan").click()
    expect(advisor.locator(f"#bill-{bill['bill_id']}-plan-impact")).to_contain_text("Added to a new draft plan")
    # Not theirs to pay: the board offers an advisor no "Pay now".
    expect(panel.get_by_role("button", name="Pay now in QuickBooks")).to_have_count(0)
    check(advisor, "advisor-bills")

    advisor.goto(f"{app.url}/businesses/{business_id}/plan")
    section = advisor.locator("section.panel").first
    expect(section.get_by_role("button", name="Approve")).to_have_count(0)
    section.get_by_role("button", name="Propose to the owner").click()
    expect(section).to_contain_text("Proposed, waiting for approval")
    expect(section).to_contain_text(f"proposed by {ADVISOR_NAME}")
    expect(section).to_contain_text("Waiting for the owner's approval.")
    check(advisor, "proposed")
    advisor.goto(f"{app.url}/portfolio")
    expect(advisor.locator(f"#client-{business_id}")).to_contain_text("1 plan")

    # The owner approves it and executes it.
    owner.goto(f"{app.url}/businesses/{business_id}/plan")
    section = owner.locator("section.panel").first
    expect(section).to_contain_text(f"proposed by {ADVISOR_NAME}")
    check(owner, "owner-sees-the-proposal")
    section.get_by_role("button", name="Approve").click()
    expect(section).to_contain_text("Approved, ready to execute")
    section.get_by_role("button", name="Execute in QuickBooks").click()
    expect(section).to_contain_text("1 of 1 done", timeout=EXECUTE_MS)
    expect(section).to_contain_text("Finished")
    expect(section.locator("tbody tr").first).to_contain_text("saved")
    check(owner, "owner-executed")
    moved = next(
        b
        for c in ("must_pay", "can_delay")
        for b in board_bills(api(owner, f"{base}/bills/board"), c)
        if b["bill_id"] == bill["bill_id"]
    )
    assert moved["decision"]["planned_pay_date"] == later.isoformat()

    # The history says who proposed, who approved.
    owner.goto(f"{app.url}/businesses/{business_id}/history")
    audit = owner.locator("section[aria-labelledby='audit-heading']")
    expect(audit).to_contain_text(ADVISOR_NAME)
    check(owner, "history")


# ---------------------------------------------------------------------------------------------- the test drive
def test_a_visitor_test_drives_a_scenario_without_an_account(app: EmbeddedApp, browser: Chromium) -> None:
    page = new_page(browser, app)
    page.goto(f"{app.url}/test-drive")
    expect(page.get_by_role("heading", level=1)).to_have_text("Test drive Oodaloo")
    check(page, "test-drive")
    page.get_by_role("button", name="Drive the tight company").click()
    page.wait_for_url(re.compile(r"/businesses/[0-9a-f-]{36}$"))
    business_id = page.url.rsplit("/", 1)[-1]
    page.locator("#tray #hygiene-score").wait_for()
    [business] = api(page, "/api/businesses")
    assert business["id"] == business_id
    runway = api(page, f"/api/businesses/{business_id}/runway")
    expect(page.locator("#cash-today")).to_have_text(money(Decimal(runway["starting_cash"])))
    expect(page.locator("#runway-figure")).to_have_text(runway_words(runway))
    # The console says it is a test drive, and until when.
    expect(page.get_by_role("note", name="Test drive")).to_contain_text("This company is yours to try until")
    check(page, "test-drive-console")
    # Back on the test drive's page: which company is theirs, and until when.
    page.goto(f"{app.url}/test-drive")
    current = page.get_by_role("region", name="Your test drive")
    expect(current).to_contain_text("the tight demo company")
    expect(current).to_contain_text("It ends")
    check(page, "your-test-drive")
