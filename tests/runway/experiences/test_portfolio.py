"""The advisor portfolio over real HTTP: an advisor firm engaged by several client businesses, each connected to a
sandbox company of its own (healthy, tight, crisis) with its mirror synced, one whose first sync has not run and one
not connected; a business the firm does not serve. Figures are checked against the runway API and QuickBooks' own
books (the sandbox), the order against the risk rule, and the cost in SQL statements."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import event

from oodaloo.domains.core.repository import UserRepository
from oodaloo.domains.core.service import BusinessService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.runway.core.forecast import HORIZON_DAYS
from oodaloo.runway.experiences.phrases import money
from oodaloo.runway.experiences.portfolio import portfolio_rows
from oodaloo.runway.experiences.tray import hygiene_of
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.support.qbo import Browser, Browsers, SandboxCompany, Served, connect, new_business, open_browsers

ZONE = ZoneInfo("America/New_York")  # new_business's zone


@dataclass
class Client:
    business_id: str
    owner: Browser
    company: SandboxCompany | None = None


@dataclass
class Portfolio:
    served: Served
    advisor: Browser
    synced: list[Client]
    first_sync: Client
    unconnected: Client
    outsider: Client
    proposed_in: Client

    @property
    def clients(self) -> list[Client]:
        return [*self.synced, self.first_sync, self.unconnected]


def synced_client(served: Served, browsers: Browsers, scenario: str) -> Client:
    owner = browsers.sign_up(f"owner-{scenario}")
    business_id = new_business(owner)
    realm = Realm.create(served.sandbox, scenario=scenario)
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    Harness.of(served.settings.database_url, realm, business_id).full_sync()
    return Client(business_id, owner, SandboxCompany(served.sandbox, realm.realm_id))


def engage(client: Client, firm_id: str) -> None:
    engaged = client.owner.post(f"/api/businesses/{client.business_id}/firms", json={"firm_id": firm_id})
    assert engaged.status_code == 201, engaged.text


def propose_a_delay(advisor: Browser, client: Client) -> None:
    assert client.company is not None
    [bill] = client.company.query("SELECT * FROM Bill WHERE Balance > '0' MAXRESULTS 1")
    base = f"/api/businesses/{client.business_id}/plans"
    later = (datetime.now(ZONE).date() + timedelta(days=20)).isoformat()
    item = {"kind": "bill.delay", "bill_id": bill["Id"], "planned_pay_date": later}
    created = advisor.post(base, json={"title": "Hold the big bills", "items": [item]})
    assert created.status_code == 201, created.text
    proposed = advisor.post(f"{base}/{created.json()['plan_id']}/propose")
    assert proposed.status_code == 200, proposed.text


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with serve_for_actions(settings, environment="development") as (served, _app):
        yield served


@pytest.fixture(scope="module")
def portfolio(served: Served) -> Iterator[Portfolio]:
    browsers_of_module = open_browsers(served)
    browsers = next(browsers_of_module)
    advisor = browsers.sign_up("advisor")
    firm = advisor.post("/api/firms", json={"name": "Ledgerlight Fractional CFOs"})
    assert firm.status_code == 201, firm.text
    firm_id = firm.json()["id"]

    synced = [synced_client(served, browsers, scenario) for scenario in ("healthy", "crisis", "tight")]
    first_sync_owner = browsers.sign_up("owner-pending")
    first_sync = Client(new_business(first_sync_owner), first_sync_owner)
    connect(first_sync_owner, first_sync.business_id, REDIRECT_URI, Realm.create(served.sandbox).realm_id)
    unconnected_owner = browsers.sign_up("owner-unconnected")
    unconnected = Client(new_business(unconnected_owner), unconnected_owner)
    for client in (*synced, first_sync, unconnected):
        engage(client, firm_id)
    outsider_owner = browsers.sign_up("outsider")
    outsider = Client(new_business(outsider_owner), outsider_owner)

    propose_a_delay(advisor, synced[0])
    yield Portfolio(served, advisor, synced, first_sync, unconnected, outsider, synced[0])
    next(browsers_of_module, None)  # closes the module's browsers


# ------------------------------------------------------------------------------------------------ what QBO says
def all_open(company: SandboxCompany, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = company.query(
            f"SELECT * FROM {entity} WHERE Balance > '0' STARTPOSITION {len(rows) + 1} MAXRESULTS 1000"
        )
        rows += page
        if len(page) < 1000:
            return rows


def due_total(rows: list[dict[str, Any]], before: date) -> tuple[Decimal, int]:
    due = [row for row in rows if date.fromisoformat(row.get("DueDate") or row["TxnDate"]) < before]
    return sum((Decimal(str(row["Balance"])) for row in due), Decimal("0.00")), len(due)


def runway_of(browser: Browser, business_id: str) -> dict[str, Any]:
    response = browser.get(f"/api/businesses/{business_id}/runway")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rows_in(page: str) -> list[str]:
    """The business ids of the portfolio's rows, in the order shown."""
    return re.findall(r'<tr id="client-([0-9a-f-]{36})">', page)


def row_html(page: str, business_id: str) -> str:
    match = re.search(rf'<tr id="client-{business_id}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {business_id}"
    return match.group(1)


# ---------------------------------------------------------------------------------------------------- the tests
def test_every_client_is_listed_riskiest_first_and_opens_its_console(portfolio: Portfolio) -> None:
    page = portfolio.advisor.get("/portfolio")
    assert page.status_code == 200, page.text
    shown = rows_in(page.text)
    assert sorted(shown) == sorted(client.business_id for client in portfolio.clients)
    assert portfolio.outsider.business_id not in page.text  # a business the firm does not serve never shows

    def risk(client: Client) -> tuple[int, Decimal]:
        days = runway_of(portfolio.advisor, client.business_id)["runway"]["days"]
        assert client.company is not None
        overdue, _count = due_total(all_open(client.company, "Invoice"), datetime.now(ZONE).date())
        return (HORIZON_DAYS + 1 if days is None else days, -overdue)

    expected = [client.business_id for client in sorted(portfolio.synced, key=risk)]
    # Clients with figures first, by risk; then the one being copied; then the one not connected.
    assert shown == [*expected, portfolio.first_sync.business_id, portfolio.unconnected.business_id]
    for business_id in shown:
        assert f'<a href="/businesses/{business_id}">' in row_html(page.text, business_id)
    assert "First sync in progress" in row_html(page.text, portfolio.first_sync.business_id)
    assert "QuickBooks is not connected" in row_html(page.text, portfolio.unconnected.business_id)


def test_each_clients_figures_are_its_runway_and_its_books(portfolio: Portfolio) -> None:
    page = portfolio.advisor.get("/portfolio").text
    today = datetime.now(ZONE).date()
    for client in portfolio.synced:
        assert client.company is not None
        row = row_html(page, client.business_id)
        runway = runway_of(portfolio.advisor, client.business_id)
        assert money(Decimal(runway["starting_cash"])) in row
        overdue, invoices = due_total(all_open(client.company, "Invoice"), today)
        due, bills = due_total(all_open(client.company, "Bill"), today + timedelta(days=7))
        if invoices:
            assert money(overdue) in row
            assert f"{invoices} invoice" in row
        if bills:
            assert money(due) in row
            assert f"{bills} bill" in row
        assert f"{hygiene_score(portfolio.served.settings, client.business_id, today)}<span" in row
    # The plan the advisor proposed waits for its owner's approval, and the row says so.
    proposed = row_html(page, portfolio.proposed_in.business_id)
    assert f'<a href="/businesses/{portfolio.proposed_in.business_id}/plan">1 plan</a>' in proposed
    assert "none" in row_html(page, portfolio.synced[1].business_id)


def hygiene_score(settings: Settings, business_id: str, today: date) -> int:
    async def score() -> int:
        database = Database(settings.database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                business = await BusinessService(session).businesses.get(uuid.UUID(business_id))
                assert business is not None
                return (await hygiene_of(session, business, today)).score
        finally:
            await database.dispose()

    return asyncio.run(score())


def test_an_owner_sees_only_their_own_business(portfolio: Portfolio) -> None:
    for client in (portfolio.synced[1], portfolio.outsider):
        page = client.owner.get("/portfolio").text
        assert rows_in(page) == [client.business_id]


def test_the_switcher_offers_every_client_and_opens_only_those(portfolio: Portfolio) -> None:
    current = portfolio.synced[0].business_id
    switcher = portfolio.advisor.get("/portfolio/switcher", params={"current": current})
    assert switcher.status_code == 200
    assert '<label for="switch-business"' in switcher.text
    for client in portfolio.clients:
        assert f'<option value="{client.business_id}"' in switcher.text
    assert f'<option value="{current}" selected>' in switcher.text
    assert portfolio.outsider.business_id not in switcher.text

    opened = portfolio.advisor.get("/portfolio/open", params={"business": portfolio.synced[2].business_id})
    assert (opened.status_code, opened.headers["location"]) == (303, f"/businesses/{portfolio.synced[2].business_id}")
    assert (
        portfolio.advisor.get("/portfolio/open", params={"business": portfolio.outsider.business_id}).status_code == 404
    )
    assert portfolio.advisor.get("/portfolio/open", params={"business": "not-an-id"}).status_code == 404
    # One business: nothing to switch to.
    alone = portfolio.outsider.owner.get("/portfolio/switcher", params={"current": portfolio.outsider.business_id})
    assert "<select" not in alone.text


def test_signed_out_visitors_are_sent_to_sign_in(portfolio: Portfolio) -> None:
    with httpx.Client(base_url=portfolio.served.app) as stranger:
        page = stranger.get("/portfolio")
        assert (page.status_code, page.headers["location"]) == (303, "/signin?next=/portfolio")


def test_a_warm_portfolio_costs_two_statements_per_client_with_figures(portfolio: Portfolio) -> None:
    """Once the runways and hygiene scores are kept, each client with figures costs two version checks; clients
    without figures cost nothing beyond the grouped queries, however many there are."""

    async def statements(emails: str) -> tuple[int, int]:
        database = Database(portfolio.served.settings.database_url)
        counted: list[str] = []

        def count(*_args: Any) -> None:
            counted.append("statement")

        event.listen(database.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                user = await UserRepository(session).by_email(emails)
                assert user is not None
                entries = await BusinessService(session).list_for(user)
                await portfolio_rows(session, entries)  # warms the caches
                counted.clear()
                rows = await portfolio_rows(session, entries)
                return len(counted), sum(1 for row in rows if row.stage == "ready")
        finally:
            await database.dispose()

    warm, with_figures = asyncio.run(statements(portfolio.advisor.email))
    assert with_figures == len(portfolio.synced)
    # Grouped: connections, synced mirrors, plans, and receivables and payables once per distinct client date.
    assert warm <= 5 + 2 * with_figures, warm
