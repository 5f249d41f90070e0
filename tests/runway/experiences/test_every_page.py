"""Every console page in a real browser (Debian's Chromium), on a 390 px phone and a 1280 px laptop: axe-core finds no
serious or critical violation, nothing scrolls sideways, and the keyboard alone reaches the page's main control with
its focus visible. One embedded app and one synced business serve the whole module; each test names its page."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import BrowserContext, Locator, Page, ViewportSize

from oodaloo.domains.core.digest_audience import business_recipients
from oodaloo.domains.core.models import Business
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.mail import FileOutbox
from oodaloo.runway.experiences.digest import build_business_digest, business_mail
from oodaloo.runway.experiences.digest_jobs import settings_transport
from tests.conftest import new_database_url
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import money
from tests.support.browser import chromium
from tests.support.pages import (
    LAPTOP,
    PHONE,
    EmbeddedApp,
    assert_accessible,
    assert_no_horizontal_overflow,
    embedded_settings_for,
    screenshot,
    serve_embedded,
    tab_to,
)
from tests.support.qbo import Browser, Browsers, Served, add_member, connect, new_business

PAGE_MS = 20_000
# A first sync that cannot reach QuickBooks gives up after SmartSync's retries: seconds, bounded.
SYNC_GIVES_UP_SECONDS = 90.0
Who = Literal["owner", "advisor", "visitor"]


# ------------------------------------------------------------------------------------------------- the site
@dataclass(frozen=True)
class Site:
    """The served app and what its pages are about: an owner's synced business (and one whose first sync cannot
    reach QuickBooks), their advisor, one bill and one invoice, the owner's digest in the outbox."""

    app: EmbeddedApp
    owner: Browser
    advisor: Browser
    business_id: str
    unsynced_id: str
    bill_id: str
    invoice_id: str
    message_id: str

    def session_of(self, who: Who) -> str | None:
        return {"owner": self.owner.session, "advisor": self.advisor.session, "visitor": None}[who]


def largest_bill_that_can_wait(owner: Browser, business_id: str) -> dict[str, Any]:
    board = owner.get(f"/api/businesses/{business_id}/bills/board").json()
    bills = [
        bill for window in board["can_delay"]["windows"] for vendor in window["vendors"] for bill in vendor["bills"]
    ]
    assert bills, "the tight company has a bill that can wait"
    return max(bills, key=lambda bill: money(bill["balance"]))


def an_overdue_invoice(owner: Browser, business_id: str) -> str:
    collections = owner.get(f"/api/businesses/{business_id}/collections").json()
    assert collections["invoices"], "the tight company has overdue invoices"
    invoice_id: str = collections["invoices"][0]["invoice"]["invoice_id"]
    return invoice_id


def later_than(bill: dict[str, Any], days: int) -> str:
    return (date.fromisoformat(bill["decision"]["planned_pay_date"]) + timedelta(days=days)).isoformat()


def plan_and_history(owner: Browser, business_id: str, bill: dict[str, Any]) -> None:
    """A draft plan (the plan page's Approve) and one delay already made (the history's first row)."""
    base = f"/api/businesses/{business_id}"
    delayed = owner.post(
        f"{base}/bills/{bill['bill_id']}/delay",
        json={"planned_pay_date": later_than(bill, 7)},
        headers={"Idempotency-Key": f"every-page-{uuid.uuid4().hex}"},
    )
    assert delayed.status_code in (200, 201), delayed.text
    item = {"kind": "bill.delay", "bill_id": bill["bill_id"], "planned_pay_date": later_than(bill, 14)}
    created = owner.post(f"{base}/plans", json={"title": "Friday's plan", "items": [item]})
    assert created.status_code == 201, created.text


async def _send_digest(app: EmbeddedApp, business_id: str) -> None:
    """The business's Friday digest, built and handed to the app's own transport (its file outbox)."""
    database = Database(app.settings.database_url)
    try:
        async with unit_of_work(database.sessionmaker) as session:
            business = await session.get(Business, uuid.UUID(business_id))
            assert business is not None
            recipients = await business_recipients(session, business.id)
            today = business.today()
            week = today - timedelta(days=today.weekday())
            digest = await build_business_digest(session, business, week=week, base_url=app.url)
        mail = business_mail(digest, key=f"every-page-{business_id}", sender=app.settings.mail_from, to=recipients)
        await settings_transport(app.settings).send(mail)
    finally:
        await database.engine.dispose()


def first_sync_that_stops(served: Served, owner: Browser) -> str:
    """A second business connected to a company whose every QuickBooks answer is a 500: its first sync stops."""
    business_id = new_business(owner, "America/Chicago")
    realm = Realm.create(served.sandbox, scenario="healthy")
    connect(owner, business_id, served.settings.qbo_redirect_uri, realm.realm_id)
    faults = {"realm_id": realm.realm_id, "kind": "500", "count": 100_000}
    httpx.post(f"{served.sandbox}/_sandbox/faults/inject", json=faults).raise_for_status()
    return business_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("every-page")
    database_url = new_database_url(folder, f"oodaloo_test_{worker_id}_every_page")
    settings_for = embedded_settings_for(folder, database_url, test_drive_pool_size=0)
    with serve_embedded(settings_for) as app:
        # The set-up's own sync is not SmartSync-paced: QBO's limits (on in the mounted sandbox) would only slow it.
        httpx.post(f"{app.sandbox}/_sandbox/limits", json={"enabled": False}).raise_for_status()
        served = Served(app.url, app.sandbox, app.settings)
        browsers = Browsers(served)
        try:
            owner = browsers.sign_up("every-page-owner")
            business_id = new_business(owner, "America/New_York")
            realm = Realm.create(app.sandbox, scenario="tight")
            connect(owner, business_id, app.settings.qbo_redirect_uri, realm.realm_id)
            Harness.of(database_url, realm, business_id).full_sync()
            advisor = browsers.sign_up("every-page-advisor")
            add_member(owner, business_id, advisor, "advisor")
            bill = largest_bill_that_can_wait(owner, business_id)
            plan_and_history(owner, business_id, bill)
            asyncio.run(_send_digest(app, business_id))
            [message] = FileOutbox(app.settings.outbox_dir).list_for(owner.email)
            unsynced_id = first_sync_that_stops(served, owner)
            yield Site(
                app=app,
                owner=owner,
                advisor=advisor,
                business_id=business_id,
                unsynced_id=unsynced_id,
                bill_id=bill["bill_id"],
                invoice_id=an_overdue_invoice(owner, business_id),
                message_id=message.id,
            )
        finally:
            browsers.close()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Chromium]:
    # After the site: its set-up runs its own event loops, which Playwright's sync API would be inside of.
    with chromium() as launched:
        yield launched


# ------------------------------------------------------------------------------------------------ the pages
Controls = Callable[[Page], list[Locator]]


@dataclass(frozen=True)
class PageCase:
    """A page: who looks at it, its path, its main controls in the order Tab reaches them (what the keyboard must
    reach), and what shows it is ready (htmx fragments loaded) beyond the load itself."""

    name: str
    who: Who
    path: Callable[[Site], str]
    controls: Controls
    ready: Callable[[Page], Locator] | None = None


def _business(site: Site) -> str:
    return f"/businesses/{site.business_id}"


def buttons(*names: str) -> Controls:
    return lambda page: [page.get_by_role("button", name=name, exact=True) for name in names]


def links(*names: str) -> Controls:
    return lambda page: [page.get_by_role("link", name=name, exact=True) for name in names]


def first(selector: str) -> Controls:
    return lambda page: [page.locator(selector).first]


def _overview(page: Page) -> list[Locator]:
    return [page.locator("ol.weeks a").first, page.get_by_role("button", name="Sync now")]


PAGES: tuple[PageCase, ...] = (
    PageCase("overview", "owner", _business, _overview, ready=lambda page: page.locator("#tray #hygiene-score")),
    PageCase("week", "owner", lambda s: f"{_business(s)}/weeks/2", links("Previous week", "Next week")),
    PageCase("bills", "owner", lambda s: f"{_business(s)}/bills", first("#board a[href*='/bills/']")),
    PageCase(
        "bill",
        "owner",
        lambda s: f"{_business(s)}/bills/{s.bill_id}",
        buttons("Save", "Add this date to the plan", "Pay now in QuickBooks", "Add this payment to the plan"),
    ),
    PageCase("chase", "owner", lambda s: f"{_business(s)}/chase", first("#chase-list a[href*='/chase/']")),
    PageCase(
        "invoice",
        "owner",
        lambda s: f"{_business(s)}/chase/{s.invoice_id}",
        buttons("Record payment in QuickBooks", "Add the payment to the plan"),
    ),
    PageCase(
        "plan",
        "owner",
        lambda s: f"{_business(s)}/plan",
        buttons("Propose to the owner", "Approve", "Cancel the plan"),
    ),
    PageCase("history", "owner", lambda s: f"{_business(s)}/history", links("Drift alerts")),
    PageCase("alerts", "owner", lambda s: f"{_business(s)}/alerts", links("Back to the history", "All")),
    PageCase(
        "settings",
        "owner",
        lambda s: f"{_business(s)}/settings",
        buttons("Save the floor", "Add the reserve", "Add the item"),
    ),
    PageCase("tray", "owner", lambda s: f"{_business(s)}/tray", first("li.tray-item a")),
    PageCase(
        "connection",
        "owner",
        lambda s: f"{_business(s)}/connection",
        links("Open the console", "Disconnect QuickBooks…"),
    ),
    PageCase(
        "disconnect",
        "owner",
        lambda s: f"{_business(s)}/connection/disconnect",
        buttons("Disconnect QuickBooks"),
    ),
    PageCase("first-sync", "owner", lambda s: f"/businesses/{s.unsynced_id}/first-sync", buttons("Try again")),
    PageCase("businesses", "owner", lambda s: "/businesses", first("main a[href^='/businesses/']")),
    PageCase("new-business", "owner", lambda s: "/onboarding/business", buttons("Create business")),
    PageCase("outbox", "owner", lambda s: "/outbox", first("main a[href^='/outbox/']")),
    PageCase("outbox-message", "owner", lambda s: f"/outbox/{s.message_id}", first("main a")),
    PageCase("portfolio", "advisor", lambda s: "/portfolio", first("table.portfolio a[href^='/businesses/']")),
    PageCase(
        "advisor-overview",
        "advisor",
        _business,
        _overview,
        ready=lambda page: page.locator("#tray #hygiene-score"),
    ),
    PageCase("signin", "visitor", lambda s: "/signin", buttons("Sign in")),
    PageCase("signup", "visitor", lambda s: "/signup", buttons("Create account")),
    PageCase(
        "test-drive",
        "visitor",
        lambda s: "/test-drive",
        buttons(
            "Drive the healthy company",
            "Drive the tight company",
            "Drive the crisis company",
            "Connect QuickBooks read-only",
        ),
    ),
)
PAGE_IDS = [case.name for case in PAGES]


@contextlib.contextmanager
def opened(browser: Chromium, site: Site, case: PageCase, viewport: ViewportSize) -> Iterator[Page]:
    """``case``'s page as its person sees it on a screen of ``viewport``, loaded and settled."""
    context: BrowserContext = browser.new_context(viewport=viewport)
    try:
        if (session := site.session_of(case.who)) is not None:
            context.add_cookies([{"name": "oodaloo_session", "value": session, "url": site.app.url}])
        page = context.new_page()
        page.set_default_timeout(PAGE_MS)
        response = page.goto(site.app.url + case.path(site))
        assert response is not None, f"{case.name}: no answer"
        assert response.ok, f"{case.name}: {response.status}"
        assert page.url == site.app.url + case.path(site), f"{case.name} sent the browser on to {page.url}"
        page.wait_for_load_state("networkidle")
        if case.ready is not None:
            case.ready(page).wait_for()
        if case.name == "first-sync":
            page.get_by_text("The copy stopped").wait_for(timeout=SYNC_GIVES_UP_SECONDS * 1000)
        yield page
    finally:
        context.close()


def check_the_page(page: Page, case: PageCase, screen: str) -> None:
    """What every page must be on every screen: one main heading, no sideways scrolling, nothing serious for axe."""
    assert page.locator("h1").count() == 1, f"{case.name} has one main heading"
    screenshot(page, f"{case.name}-{screen}")
    assert_no_horizontal_overflow(page)
    assert_accessible(page)


@pytest.mark.parametrize("case", PAGES, ids=PAGE_IDS)
def test_on_a_phone(browser: Chromium, site: Site, case: PageCase) -> None:
    with opened(browser, site, case, PHONE) as page:
        check_the_page(page, case, "phone")


@pytest.mark.parametrize("case", PAGES, ids=PAGE_IDS)
def test_on_a_laptop_with_the_keyboard_alone(browser: Chromium, site: Site, case: PageCase) -> None:
    with opened(browser, site, case, LAPTOP) as page:
        check_the_page(page, case, "laptop")
        controls = case.controls(page)
        for control in controls:
            assert control.is_visible(), f"{case.name}: {control} is shown"
        # Unless the page puts the focus in a form itself (autofocus), the first Tab reaches the skip link.
        if page.evaluate("() => document.activeElement === document.body"):
            page.keyboard.press("Tab")
            skip = page.get_by_role("link", name="Skip to content")
            assert skip.evaluate("(el) => el === document.activeElement"), f"{case.name}: Tab first reaches skip link"
        for control in controls:  # each further on from the last
            tab_to(page, control)


def test_every_console_route_is_tried(site: Site) -> None:
    """A console page added later must join PAGES: every GET page route of the app is one of them (or a fragment)."""
    tried = {case.path(site).split("?")[0] for case in PAGES}
    ids = {
        "{business_id}": site.business_id,
        "{bill_id}": site.bill_id,
        "{invoice_id}": site.invoice_id,
        "{message_id}": site.message_id,
        "{n}": "2",
    }
    missing: list[str] = []
    for route in site.app.app.routes:
        path: str = getattr(route, "path", "")
        methods: set[str] = getattr(route, "methods", set()) or set()
        if "GET" not in methods or path.startswith(("/api", "/static", "/qbo", "/webhooks", "/docs", "/redoc")):
            continue
        if path in FRAGMENTS_AND_REDIRECTS or path.startswith("/qbo-sandbox"):
            continue
        concrete = path
        for placeholder, value in ids.items():
            concrete = concrete.replace(placeholder, value)
        if concrete not in tried and concrete.replace(site.business_id, site.unsynced_id) not in tried:
            missing.append(path)
    assert missing == [], f"console pages no test here opens: {missing}"


# GET routes that are not pages of their own: htmx fragments, redirects and machine endpoints.
FRAGMENTS_AND_REDIRECTS = frozenset(
    {
        "/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/businesses/{business_id}/sync-status",
        "/businesses/{business_id}/track-record",
        "/businesses/{business_id}/bills/{bill_id}/panel",
        "/businesses/{business_id}/chase/{invoice_id}/panel",
        "/businesses/{business_id}/plan/{plan_id}/section",
        "/businesses/{business_id}/connection/banner",
        "/businesses/{business_id}/first-sync/progress",
        "/portfolio/switcher",
        "/portfolio/open",
    }
)


def test_artifacts_land_where_the_environment_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Screenshots of a test go to its own folder under $OODALOO_TEST_ARTIFACTS, numbered in order."""
    monkeypatch.setenv("OODALOO_TEST_ARTIFACTS", str(tmp_path / "artifacts"))

    class FakePage:
        def __init__(self) -> None:
            self.paths: list[str] = []

        def screenshot(self, *, path: str, full_page: bool) -> None:
            assert full_page
            Path(path).write_bytes(b"png")
            self.paths.append(path)

    page = FakePage()
    first = screenshot(page, "Bills: Must Pay / Can Delay")  # type: ignore[arg-type]
    second = screenshot(page, "Bills: Must Pay / Can Delay")  # type: ignore[arg-type]
    assert first.parent == second.parent
    assert first.parent.parent.name == "test_every_page"
    assert first.parent.name == "test_artifacts_land_where_the_environment_says"
    assert [first.name, second.name] == ["01-Bills-Must-Pay-Can-Delay.png", "02-Bills-Must-Pay-Can-Delay.png"]
    assert first.is_relative_to(tmp_path / "artifacts")
    assert first.read_bytes() == second.read_bytes() == b"png"
