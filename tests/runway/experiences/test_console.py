"""The console's overview and its reserves and recurring items page over real HTTP, as a signed-in browser uses them:
the app served beside a standalone sandbox, demo companies connected and synced. The overview says what the runway
API says, a week lists its items with their reasons, the chart marks the floor and the day a crisis company runs out,
the change since last week names what happened in the books; settings edits persist, bad input is refused next to
its field with nothing written, and viewers read but cannot change anything."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.domains.core.snapshots import SnapshotRepository
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.runway.core.forecast import WeekItem
from oodaloo.runway.experiences.console import WEEK_ITEMS_LISTED, largest_items
from oodaloo.runway.experiences.phrases import day, money, percent, plural, short_day, signed_money, weeks_and_days
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.support.clock import Instant, at
from tests.support.qbo import Browser, Browsers, Served, add_member, connect, new_business
from tests.support.waiting import until

# Mid-morning in the businesses' zone: their date cannot change while the module runs.
MORNING = Instant("America/New_York", time(10, 0))
TODAY = MORNING.day
CSRF_COOKIE = "oodaloo_csrf"
HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with at(MORNING), serve_for_actions(settings) as (served, _app):
        yield served


@pytest.fixture(scope="module")
def browsers(served: Served) -> Iterator[Browsers]:
    browsers = Browsers(served)
    try:
        yield browsers
    finally:
        browsers.close()


@dataclass
class Company:
    """A business connected to a sandbox demo company, with its owner's browser."""

    owner: Browser
    business_id: str
    realm: Realm
    mirror: Harness | None

    @property
    def page(self) -> str:
        return f"/businesses/{self.business_id}"

    def api(self, path: str, as_: Browser | None = None) -> Any:
        response = (as_ or self.owner).get(f"/api/businesses/{self.business_id}{path}")
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str = "", as_: Browser | None = None, **kwargs: Any) -> httpx.Response:
        return (as_ or self.owner).get(self.page + path, **kwargs)


def connected(served: Served, browsers: Browsers, scenario: str, *, sync: bool = True) -> Company:
    owner = browsers.sign_up(f"console-{scenario}")
    business_id = new_business(owner, timezone=MORNING.zone)
    realm = Realm.create(served.sandbox, scenario=scenario)
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    mirror = Harness.of(served.settings.database_url, realm, business_id) if sync else None
    if mirror is not None:
        mirror.full_sync()
    return Company(owner, business_id, realm, mirror)


@pytest.fixture(scope="module")
def healthy(served: Served, browsers: Browsers) -> Company:
    """A healthy demo company, for the tests that change nothing."""
    return connected(served, browsers, "healthy")


@pytest.fixture(scope="module")
def crisis(served: Served, browsers: Browsers) -> Company:
    return connected(served, browsers, "crisis")


@pytest.fixture
def own(served: Served, browsers: Browsers) -> Company:
    """A tight demo company of the test's own, for tests that change its settings."""
    return connected(served, browsers, "tight")


# ---------------------------------------------------------------------------------------------- reading pages
def text(fragment: str) -> str:
    """What a person reads: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def by_id(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (an element without nested ones of its own tag)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element #{element_id} in the page"
    return text(match.group(2))


def svg_of(page: str) -> str:
    match = re.search(r"<svg.*?</svg>", page, re.S)
    assert match, "no chart in the page"
    return match.group(0)


def csrf(browser: Browser, page: httpx.Response) -> dict[str, str]:
    """The form token of ``page`` and the cookie it pairs with, as headers and field for a post."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no form on the page"
    cookie = page.cookies.get(CSRF_COOKIE) or next(
        header.split("=", 1)[1].split(";", 1)[0]
        for header in page.headers.get_list("set-cookie")
        if header.startswith(CSRF_COOKIE + "=")
    )
    return {"token": match.group(1), "cookie": f"oodaloo_session={browser.session}; {CSRF_COOKIE}={cookie}"}


def post_form(
    browser: Browser, url: str, form: dict[str, str], secret: dict[str, str], **headers: str
) -> httpx.Response:
    return browser.post(
        url, data={**form, "csrf_token": secret["token"]}, headers={"Cookie": secret["cookie"], **headers}
    )


def decimal(value: Any) -> Decimal:
    return Decimal(str(value))


# =================================================================================================== overview
def test_the_overview_shows_the_runway_the_api_serves(healthy: Company) -> None:
    runway = healthy.api("/runway")
    page = healthy.get()
    assert page.status_code == 200, page.text
    currency = runway["currency"]

    assert by_id(page.text, "cash-today") == money(decimal(runway["starting_cash"]), currency)
    figure = runway["runway"]
    shown = by_id(page.text, "runway-figure")
    if figure["days"] is None:
        assert shown == f"Beyond {len(runway['weeks'])} weeks"
    else:
        assert shown == weeks_and_days(figure["days"])
        assert day(date.fromisoformat(figure["runs_out_on"])) in text(page.text)
    assert f"reserve floor ({money(decimal(runway['reserve_floor']), currency)})" in text(page.text)

    chart = svg_of(page.text)
    assert 'role="img"' in chart
    assert "<title" in chart
    assert "<desc" in chart
    # The chart's table carries each week's ending free cash, as the API computes it.
    for week in runway["weeks"]:
        assert money(decimal(week["free_ending"]), currency) in page.text
    # Every week is a link to its items, loaded in place by htmx.
    for number in range(1, len(runway["weeks"]) + 1):
        assert f'hx-get="{healthy.page}/weeks/{number}"' in page.text
        assert f'href="{healthy.page}/weeks/{number}"' in page.text
    # The prep tray and the track record load after the page.
    assert f'hx-get="{healthy.page}/tray" hx-trigger="load"' in page.text
    assert f'hx-get="{healthy.page}/track-record" hx-trigger="load"' in page.text


def test_a_week_lists_its_items_and_why_each_is_dated_there(healthy: Company) -> None:
    week = healthy.api("/runway/weeks/1")
    assert week["items"], "the demo's first week has items"
    fragment = healthy.get("/weeks/1", headers=HTMX)
    assert fragment.status_code == 200, fragment.text
    assert "<html" not in fragment.text  # a fragment for the overview to place
    shown = text(fragment.text)
    for item in week["items"]:
        assert text(html.escape(item["name"])) in shown
        assert text(html.escape(item["reason"])) in shown
    assert f"Week 1: {day(date.fromisoformat(week['start']))} to {day(date.fromisoformat(week['end']))}" in shown

    # Without htmx (a link opened in a new tab, no JavaScript) it is a page of its own, with the console around it.
    page = healthy.get("/weeks/1")
    assert page.status_code == 200
    assert "<html" in page.text
    assert text(html.escape(week["items"][0]["reason"])) in text(page.text)

    assert healthy.get("/weeks/14", headers={"Accept": "text/html"}).status_code == 404


def test_the_chart_of_a_company_in_crisis_marks_the_floor_and_the_day_it_runs_out(crisis: Company) -> None:
    runway = crisis.api("/runway")
    figure = runway["runway"]
    assert figure["days"] is not None, "the crisis demo runs out within the 13 weeks"
    page = crisis.get()
    assert page.status_code == 200, page.text
    chart = svg_of(page.text)
    assert 'class="reserve-floor"' in chart
    assert 'class="run-out"' in chart
    runs_out = date.fromisoformat(figure["runs_out_on"])
    assert f"Runs out {short_day(runs_out)}" in text(chart)
    # Said in words for screen readers, and the week it happens in is marked among the week links.
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", chart, re.S)
    assert desc
    assert f"falls below the reserve floor of {money(decimal(runway['reserve_floor']), runway['currency'])}" in text(
        desc.group(1)
    )
    assert f"on {day(runs_out)}, in week {figure['runs_out_week']}" in text(desc.group(1))
    marked = re.search(rf'href="{crisis.page}/weeks/(\d+)"[^>]*class="runs-out"', page.text, re.S)
    assert marked
    assert int(marked.group(1)) == figure["runs_out_week"]


def test_the_change_since_last_week_names_what_happened_in_the_books(served: Served, own: Company) -> None:
    week_ago = TODAY - timedelta(days=7)
    snapshot_cash, snapshot_runway = Decimal("50000.00"), 30
    asyncio.run(
        _record_snapshot(served.settings.database_url, own.business_id, week_ago, snapshot_cash, snapshot_runway)
    )
    bill = own.realm.post(
        "/bill",
        {
            "VendorRef": {"value": _first_vendor(own.realm)},
            "TxnDate": TODAY.isoformat(),
            "Line": [
                {
                    "Amount": "98765.43",
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": _expense_account(own.realm)}},
                }
            ],
        },
    )
    assert bill.status_code == 200, bill.text
    assert own.mirror is not None
    own.mirror.run(lambda sync: sync.incremental(own.mirror.business_id))  # type: ignore[union-attr]

    runway = own.api("/runway")
    currency = runway["currency"]
    page = own.get()
    assert page.status_code == 200, page.text
    change = by_id(page.text, "since-last-week")
    cash_delta = decimal(runway["starting_cash"]) - snapshot_cash
    assert f"Cash {signed_money(cash_delta, currency)} since {day(week_ago)}" in change
    now_days = runway["runway"]["days"]
    if now_days != snapshot_runway:
        longer = "longer" if (now_days or 91) > snapshot_runway else "shorter"
        assert f"{longer} than on {day(week_ago)}, when it was {weeks_and_days(snapshot_runway)}" in change

    # The new bills dated since then, as QuickBooks has them, with the largest (ours) named.
    new_bills = [row for row in own.realm.objects("Bill").values() if date.fromisoformat(row["TxnDate"]) > week_ago]
    total = sum((decimal(row["TotalAmt"]) for row in new_bills), Decimal(0))
    assert f"{plural(len(new_bills), 'new bill')} arrived, {money(total, currency)} in all".capitalize() in change
    if len(new_bills) > 1:
        assert f"the largest, {money(Decimal('98765.43'), currency)}" in change
    payments = [row for row in own.realm.objects("Payment").values() if date.fromisoformat(row["TxnDate"]) > week_ago]
    if payments:
        collected = sum((decimal(row["TotalAmt"]) for row in payments), Decimal(0))
        assert f"Collected {money(collected, currency)} in {plural(len(payments), 'customer payment')}" in change


async def _record_snapshot(database_url: str, business_id: str, day_: date, cash: Decimal, runway_days: int) -> None:
    zero = Decimal("0.00")
    values: dict[str, object] = {
        "day": day_,
        "cash": cash,
        "burn": zero,
        "runway_days": runway_days,
        "horizon_days": 91,
        **{
            name: zero
            for name in (
                "ar_total",
                "ar_current",
                "ar_1_30",
                "ar_31_60",
                "ar_61_90",
                "ar_over_90",
                "ap_total",
                "ap_current",
                "ap_1_30",
                "ap_31_60",
                "ap_61_90",
                "ap_over_90",
            )
        },
        "dso_days": None,
        "dpo_days": None,
    }
    database = Database(database_url)
    try:
        async with unit_of_work(database.sessionmaker) as session:
            assert await SnapshotRepository(session, uuid.UUID(business_id)).add_once(values)
    finally:
        await database.dispose()


def _first_vendor(realm: Realm) -> str:
    return next(row["Id"] for row in realm.objects("Vendor").values() if row.get("Active", True))


def _expense_account(realm: Realm) -> str:
    return next(row["Id"] for row in realm.objects("Account").values() if row.get("AccountType") == "Expense")


def test_without_a_snapshot_a_week_ago_the_overview_still_says_what_happened(healthy: Company) -> None:
    page = healthy.get()
    change = by_id(page.text, "since-last-week")
    assert (
        f"No figures were recorded a week ago yet; here is what happened since {day(TODAY - timedelta(days=7))}"
        in change
    )
    assert "Cash " not in change  # no cash figure to compare with


def test_a_business_whose_first_sync_has_not_finished_sees_it_in_progress(served: Served, browsers: Browsers) -> None:
    company = connected(served, browsers, "healthy", sync=False)
    page = company.get()
    assert page.status_code == 200, page.text
    shown = text(page.text)
    assert "First sync in progress" in shown
    assert "Not synced yet." in shown
    assert "<svg" not in page.text
    # The sync panel asks again every few seconds and reloads the page once the mirror is synced.
    assert f'hx-get="{company.page}/sync-status?waiting=true&amp;"' in page.text
    assert 'hx-trigger="every 3s"' in page.text
    waiting = company.get("/sync-status?waiting=true", headers=HTMX)
    assert waiting.status_code == 200
    assert waiting.text.lstrip().startswith('<div id="sync-state"')
    Harness.of(served.settings.database_url, company.realm, company.business_id).full_sync()
    done = company.get("/sync-status?waiting=true", headers=HTMX)
    assert done.status_code == 204
    assert done.headers["HX-Refresh"] == "true"
    assert "First sync in progress" not in company.get().text


def test_a_business_not_connected_is_asked_to_connect(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up("console-unconnected")
    business_id = new_business(owner, timezone=MORNING.zone)
    page = owner.get(f"/businesses/{business_id}")
    assert page.status_code == 200, page.text
    assert "Not connected to QuickBooks" in text(page.text)
    assert f'href="/businesses/{business_id}/connection"' in page.text


# ----------------------------------------------------------------------------------------------------- sync
def test_sync_status_and_sync_now(served: Served, browsers: Browsers, healthy: Company) -> None:
    page = healthy.get()
    state = by_id(page.text, "sync-state")
    assert re.search(r"Synced (just now|\d+ minutes? ago)", state), state
    secret = csrf(healthy.owner, page)

    queued = post_form(healthy.owner, f"{healthy.page}/sync", {}, secret, **HTMX)
    assert queued.status_code == 200, queued.text
    # The answer replaces the panel's status in place (not the panel, whose button keeps the keyboard's focus).
    assert queued.text.lstrip().startswith('<div id="sync-state"')
    assert "<form" not in queued.text
    # It asks again every few seconds, saying a sync is queued until one has run since the press.
    assert 'hx-trigger="every 3s"' in queued.text
    poll = re.search(r'hx-get="([^"]+)"', queued.text)
    assert poll
    assert "asked=" in poll.group(1)

    def done() -> str | None:
        state = by_id(healthy.owner.get(html.unescape(poll.group(1)), headers=HTMX).text, "sync-state")
        return state if "queued" not in state and "is running" not in state else None

    assert re.search(r"Synced (just now|1 minute ago)", until(done, "the sync asked for to run", within=30))
    assert re.search(r"Sync requested|already waiting", text(queued.text))
    again = post_form(healthy.owner, f"{healthy.page}/sync", {}, secret, **HTMX)
    assert "synced moments ago; try again in a minute" in text(again.text)

    # Without the form's token, or by a viewer, nothing is asked for.
    forged = healthy.owner.post(f"{healthy.page}/sync", data={"csrf_token": "forged"}, headers={"Accept": "text/html"})
    assert forged.status_code == 403
    viewer = browsers.sign_up("console-viewer")
    add_member(healthy.owner, healthy.business_id, viewer, "viewer")
    viewer_page = healthy.get(as_=viewer)
    assert viewer_page.status_code == 200
    assert "Sync now" not in viewer_page.text
    # The sign-out form gives the viewer a valid token of their own: the refusal is for the role, not the form.
    refused = post_form(viewer, f"{healthy.page}/sync", {}, csrf(viewer, viewer_page), Accept="text/html")
    assert refused.status_code == 403
    assert "advisor or owner role" in text(refused.text)


def test_quickbooks_trouble_shows_while_the_realms_circuit_is_open(served: Served, own: Company) -> None:
    # QuickBooks answers this company's next requests with 503: the sync asked for from the page retries, each
    # failure counts, and SmartSync opens the realm's circuit.
    injected = httpx.post(
        f"{served.sandbox}/_sandbox/faults/inject", json={"realm_id": own.realm.realm_id, "kind": "503", "count": 12}
    )
    assert injected.status_code == 200, injected.text
    page = own.get()
    assert "not answering" not in text(page.text)
    asked = post_form(own.owner, f"{own.page}/sync", {}, csrf(own.owner, page), **HTMX)
    assert "Sync requested" in text(asked.text)

    def trouble() -> str | None:
        shown = text(own.get().text)
        return shown if "QuickBooks is not answering for this company right now" in shown else None

    shown = until(trouble, "the overview to show QuickBooks' trouble", within=30)
    assert "Figures here are from the last successful sync" in shown
    # The runway is still there, from the mirror: reads never wait on QuickBooks.
    assert by_id(own.get().text, "runway-figure")
    failed = until(
        lambda: "The last sync failed" in by_id(own.get("/sync-status", headers=HTMX).text, "sync-state"),
        "the failed sync to be reported",
        within=30,
    )
    assert failed


def test_the_track_record_is_the_backtest_in_words(healthy: Company) -> None:
    backtest = healthy.api("/runway/backtest")
    fragment = healthy.get("/track-record", headers=HTMX)
    assert fragment.status_code == 200, fragment.text
    shown = text(fragment.text)
    ours, naive = backtest["ours"]["collections_wape"], backtest["naive"]["collections_wape"]
    assert ours is not None
    assert (
        f"Over the last {plural(backtest['as_of_weeks'], 'week')} our {backtest['horizon_weeks']}-week forecast of "
        f"collections was off by {percent(decimal(ours))} on average; due dates alone were off by "
        f"{percent(decimal(naive))}."
    ) in shown
    assert money(decimal(backtest["ours"]["cash_mae"]), backtest["currency"]) in shown
    # Asked again with the books unchanged, it is the same answer, from the cache.
    assert text(healthy.get("/track-record", headers=HTMX).text) == shown


# ================================================================================================= settings
def test_settings_edits_persist(own: Company) -> None:
    owner = own.owner
    secret = csrf(owner, own.get("/settings"))
    base = f"{own.page}/settings"

    saved = post_form(owner, f"{base}/floor", {"amount": "12,500"}, secret)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{base}?saved=floor"
    assert decimal(own.api("/reserves")["floor"]) == Decimal("12500.00")
    assert "The reserve floor is saved." in text(own.get("/settings?saved=floor").text)

    until = (TODAY + timedelta(days=30)).isoformat()
    added = post_form(
        owner,
        f"{base}/reserves",
        {"kind": "payroll", "name": "April payroll", "amount": "8000", "until": until},
        secret,
    )
    assert added.status_code == 303, added.text
    reserve = next(r for r in own.api("/reserves")["reserves"] if r["name"] == "April payroll")
    assert (reserve["kind"], decimal(reserve["amount"]), reserve["until"]) == ("payroll", Decimal("8000.00"), until)

    changed = post_form(
        owner,
        f"{base}/reserves/{reserve['id']}",
        {"kind": "taxes", "name": "Q2 taxes", "amount": "9100.50", "until": ""},
        secret,
    )
    assert changed.status_code == 303, changed.text
    reserve = next(r for r in own.api("/reserves")["reserves"] if r["id"] == reserve["id"])
    assert (reserve["kind"], reserve["name"], decimal(reserve["amount"]), reserve["until"]) == (
        "taxes",
        "Q2 taxes",
        Decimal("9100.50"),
        None,
    )
    page = text(own.get("/settings").text)
    assert "Q2 taxes" in page
    assert money(Decimal("9100.50")) in page

    deleted = post_form(owner, f"{base}/reserves/{reserve['id']}/delete", {}, secret)
    assert deleted.status_code == 303
    assert all(r["id"] != reserve["id"] for r in own.api("/reserves")["reserves"])

    next_date = (TODAY + timedelta(days=10)).isoformat()
    item_form = {
        "name": "Office lease",
        "category": "rent",
        "cadence": "monthly",
        "amount": "4200",
        "next_date": next_date,
    }
    assert post_form(owner, f"{base}/recurring", item_form, secret).status_code == 303
    item = next(i for i in own.api("/recurring-items") if i["name"] == "Office lease")
    assert (item["origin"], decimal(item["amount"]), item["next_date"]) == ("user", Decimal("4200.00"), next_date)

    changed_item = post_form(owner, f"{base}/recurring/{item['id']}", {**item_form, "amount": "4350.00"}, secret)
    assert changed_item.status_code == 303, changed_item.text
    item = next(i for i in own.api("/recurring-items") if i["id"] == item["id"])
    assert decimal(item["amount"]) == Decimal("4350.00")

    assert post_form(owner, f"{base}/recurring/{item['id']}/remove", {}, secret).status_code == 303
    assert all(i["id"] != item["id"] for i in own.api("/recurring-items"))


def test_a_detected_item_changed_on_the_page_keeps_following_detection_elsewhere(own: Company) -> None:
    detected = next(i for i in own.api("/recurring-items") if i["origin"] == "detected" and i["enabled"])
    secret = csrf(own.owner, own.get("/settings"))
    form = {
        "name": detected["name"],
        "category": detected["category"],
        "cadence": detected["cadence"],
        "amount": str(decimal(detected["amount"]) + 100),
        "next_date": detected["next_date"] or "",
    }
    saved = post_form(own.owner, f"{own.page}/settings/recurring/{detected['id']}", form, secret)
    assert saved.status_code == 303, saved.text
    after = next(i for i in own.api("/recurring-items") if i["id"] == detected["id"])
    assert decimal(after["amount"]) == decimal(detected["amount"]) + 100
    assert (after["name"], after["cadence"], after["next_date"]) == (
        detected["name"],
        detected["cadence"],
        detected["next_date"],
    )

    switched_off = post_form(own.owner, f"{own.page}/settings/recurring/{detected['id']}/remove", {}, secret)
    assert switched_off.status_code == 303
    assert not next(i for i in own.api("/recurring-items") if i["id"] == detected["id"])["enabled"]
    restored = post_form(own.owner, f"{own.page}/settings/recurring/{detected['id']}/restore", {}, secret)
    assert restored.status_code == 303
    assert next(i for i in own.api("/recurring-items") if i["id"] == detected["id"])["enabled"]


def test_bad_input_is_refused_next_to_its_field_and_nothing_is_written(own: Company) -> None:
    owner = own.owner
    secret = csrf(owner, own.get("/settings"))
    base = f"{own.page}/settings"
    before = own.api("/reserves")

    refused = post_form(
        owner, f"{base}/reserves", {"kind": "payroll", "name": "", "amount": "12.345", "until": ""}, secret
    )
    assert refused.status_code == 422
    assert 'id="new-reserve-amount-error"' in refused.text
    assert "Enter an amount such as 1200.50" in by_id(refused.text, "new-reserve-amount-error")
    assert "This is required." in by_id(refused.text, "new-reserve-name-error")
    assert 'aria-describedby="new-reserve-amount-error" aria-invalid="true"' in refused.text
    assert 'value="12.345"' in refused.text  # what was typed is shown again
    assert "Nothing was saved" in text(refused.text)

    floor = post_form(owner, f"{base}/floor", {"amount": "-5"}, secret)
    assert floor.status_code == 422
    assert "Enter an amount such as 1200.50" in by_id(floor.text, "floor-amount-error")

    # A change refused by the domain (a reserve cannot end in the past) after its other fields were taken: the
    # amount typed with it is not kept either.
    created = post_form(
        owner, f"{base}/reserves", {"kind": "custom", "name": "Cushion", "amount": "1000", "until": ""}, secret
    )
    assert created.status_code == 303
    reserve = next(r for r in own.api("/reserves")["reserves"] if r["name"] == "Cushion")
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    past = post_form(
        owner,
        f"{base}/reserves/{reserve['id']}",
        {"kind": "custom", "name": "Cushion", "amount": "5000", "until": yesterday},
        secret,
    )
    assert past.status_code == 422
    assert "is before today" in by_id(past.text, f"reserve-{reserve['id']}-until-error")
    kept = next(r for r in own.api("/reserves")["reserves"] if r["id"] == reserve["id"])
    assert decimal(kept["amount"]) == Decimal("1000.00")

    item = post_form(
        owner,
        f"{base}/recurring",
        {"name": "Loan", "category": "other", "cadence": "fortnightly", "amount": "300", "next_date": "soon"},
        secret,
    )
    assert item.status_code == 422
    assert "Choose one of the options listed." in by_id(item.text, "new-item-cadence-error")
    assert "Enter a date as YYYY-MM-DD." in by_id(item.text, "new-item-next_date-error")
    assert all(i["name"] != "Loan" for i in own.api("/recurring-items"))

    after = own.api("/reserves")
    assert decimal(after["floor"]) == decimal(before["floor"])
    assert len(after["reserves"]) == len(before["reserves"]) + 1  # only the valid "Cushion"


def test_viewers_read_the_settings_but_cannot_change_them(browsers: Browsers, own: Company) -> None:
    viewer = browsers.sign_up("console-settings-viewer")
    add_member(own.owner, own.business_id, viewer, "viewer")
    page = own.get("/settings", as_=viewer)
    assert page.status_code == 200
    assert "Changing them needs the advisor or owner role" in text(page.text)
    assert f'action="{own.page}/settings/floor"' not in page.text
    assert f'action="{own.page}/settings/reserves"' not in page.text

    secret = csrf(viewer, page)  # the sign-out form's token: a valid one, for this viewer
    before = own.api("/reserves")
    refused = post_form(viewer, f"{own.page}/settings/floor", {"amount": "1"}, secret, Accept="text/html")
    assert refused.status_code == 403
    assert "advisor or owner role" in text(refused.text)
    added = post_form(
        viewer,
        f"{own.page}/settings/reserves",
        {"kind": "custom", "name": "x", "amount": "1", "until": ""},
        secret,
        Accept="text/html",
    )
    assert added.status_code == 403
    assert own.api("/reserves") == before

    # An advisor proposes, and reserves are theirs to prepare as in the API.
    advisor = browsers.sign_up("console-settings-advisor")
    add_member(own.owner, own.business_id, advisor, "advisor")
    advisor_secret = csrf(advisor, own.get("/settings", as_=advisor))
    saved = post_form(advisor, f"{own.page}/settings/floor", {"amount": "250"}, advisor_secret)
    assert saved.status_code == 303
    assert decimal(own.api("/reserves")["floor"]) == Decimal("250.00")


def test_a_settings_form_without_its_token_is_refused(own: Company) -> None:
    response = own.owner.post(f"{own.page}/settings/floor", data={"amount": "10"}, headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "expired" in text(response.text)


def test_a_crowded_week_lists_its_largest_items_and_totals_the_rest() -> None:
    start = date(2026, 3, 18)
    items = [
        WeekItem(
            "outflow" if number % 3 else "inflow",
            "bill" if number % 3 else "invoice",
            str(number),
            f"Item {number}",
            Decimal(number),
            start + timedelta(days=number % 7),
            start,
            start,
            start,
            "Due.",
        )
        for number in range(1, WEEK_ITEMS_LISTED + 51)
    ]
    shown, rest = largest_items(items)
    assert len(shown) == WEEK_ITEMS_LISTED
    assert {item.amount for item in shown} == {Decimal(number) for number in range(51, WEEK_ITEMS_LISTED + 51)}
    # In the week's own order (the items come in date order), not by size.
    assert shown == [item for item in items if item.amount > 50]
    assert rest is not None
    assert rest.count == 50
    assert rest.inflows == sum((Decimal(n) for n in range(1, 51) if n % 3 == 0), Decimal(0))
    assert rest.outflows == sum((Decimal(n) for n in range(1, 51) if n % 3), Decimal(0))
    assert largest_items(items[:10]) == (items[:10], None)
