"""The advisor portfolio in a real browser (Debian's Chromium through Playwright) on a 390 px phone: every client is
listed riskiest first without the page scrolling sideways, a client's console opens from the keyboard, and axe-core
finds no serious or critical problem. Screenshots are saved as test artifacts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oodaloo.settings import Settings
from tests.runway.action_support import serve_for_actions
from tests.runway.experiences.test_portfolio import Client, engage, rows_in, synced_client
from tests.support.browser import chromium
from tests.support.pages import PHONE, assert_accessible, assert_no_horizontal_overflow, screenshot, tab_to
from tests.support.qbo import Browser, Served, new_business, open_browsers

PAGE_MS = 15_000


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with serve_for_actions(settings, environment="development") as (served, _app):
        yield served


@pytest.fixture(scope="module")
def advisor_with_clients(served: Served) -> Iterator[tuple[Browser, list[Client]]]:
    browsers_of_module = open_browsers(served)
    browsers = next(browsers_of_module)
    advisor = browsers.sign_up("advisor-browser")
    firm_id = advisor.post("/api/firms", json={"name": "Northstar Books"}).json()["id"]
    clients = [synced_client(served, browsers, scenario) for scenario in ("healthy", "crisis")]
    unconnected_owner = browsers.sign_up("owner-unconnected")
    clients.append(Client(new_business(unconnected_owner), unconnected_owner))
    for client in clients:
        engage(client, firm_id)
    yield advisor, clients
    next(browsers_of_module, None)


def test_the_portfolio_fits_a_phone_and_opens_a_client_from_the_keyboard(
    served: Served, advisor_with_clients: tuple[Browser, list[Client]]
) -> None:
    advisor, clients = advisor_with_clients
    order = rows_in(advisor.get("/portfolio").text)
    assert sorted(order) == sorted(client.business_id for client in clients)
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE)
        context.add_cookies([{"name": "oodaloo_session", "value": advisor.session, "url": served.app}])
        page = context.new_page()
        page.set_default_timeout(PAGE_MS)
        page.goto(f"{served.app}/portfolio")
        screenshot(page, "portfolio-phone")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert_no_horizontal_overflow(page)
        shown = page.locator("tbody tr").evaluate_all("rows => rows.map(row => row.id.replace('client-', ''))")
        assert shown == order
        assert_accessible(page)

        # The riskiest client's console, reached with the keyboard alone: Tab reaches its link (the focus shows),
        # Enter opens it.
        tab_to(page, page.locator(f'#client-{order[0]} a[href="/businesses/{order[0]}"]'))
        page.keyboard.press("Enter")
        page.wait_for_url(f"{served.app}/businesses/{order[0]}")
