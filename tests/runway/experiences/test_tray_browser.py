"""The prep tray in a real browser (Debian's Chromium through Playwright), on the healthy demo company: its page on a
laptop and on a 390 px phone (nothing overflows sideways, the score and its components open, every item has its
action link, axe-core finds no serious or critical violation), and the same tray loaded into the overview by htmx.
Screenshots are saved as test artifacts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Page

from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.runway.experiences.test_tray_support import MORNING
from tests.support.browser import chromium
from tests.support.clock import at
from tests.support.qbo import Browsers, Served, connect, new_business

VIEWPORTS = {"laptop": (1280, 800), "phone": (390, 844)}
WAIT_MS = 15_000
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with at(MORNING), serve_for_actions(settings) as (served, _app):
        yield served


def artifacts() -> Path:
    folder = Path(os.environ.get("OODALOO_TEST_ARTIFACTS", "var/test-artifacts")) / "tray"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def overflows(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def blocking_violations(page: Page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{found['id']}: {found['help']}" for found in violations if found.get("impact") in BLOCKING]


def test_the_tray_page_on_a_laptop_and_a_phone_and_inside_the_overview(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up("tray-browser")
    business_id = new_business(owner, timezone=MORNING.zone)
    realm = Realm.create(served.sandbox, scenario="healthy")
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    Harness.of(served.settings.database_url, realm, business_id).full_sync()
    tray = owner.get(f"/api/businesses/{business_id}/tray").json()
    assert tray["items"], "the demo company has things that need attention"
    assert tray["left_out"], "more overdue invoices than the tray shows"

    with chromium() as browser:
        for name, (width, height) in VIEWPORTS.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_cookies([{"name": "oodaloo_session", "value": owner.session, "url": served.app}])
            page = context.new_page()
            page.goto(f"{served.app}/businesses/{business_id}/tray")
            page.wait_for_load_state("networkidle")

            assert page.get_by_role("heading", level=1, name="Prep tray").is_visible()
            assert page.locator("#hygiene-score").inner_text() == str(tray["hygiene"]["score"])
            assert page.locator("#confidence").inner_text().endswith(tray["confidence_reason"])
            items = page.locator("li.tray-item")
            assert items.count() == len(tray["items"])
            for index, expected in enumerate(tray["items"]):
                link = items.nth(index).get_by_role("link")
                assert link.get_attribute("href") == expected["action"]["href"]
            for left in tray["left_out"]:
                assert page.get_by_role("link", name=left["label"]).get_attribute("href") == left["href"]
            page.get_by_text("How the score is made").click()
            assert page.locator("#hygiene-components tbody tr").count() == len(tray["hygiene"]["components"])
            assert not overflows(page), f"the tray overflows sideways at {width} px"
            assert blocking_violations(page) == []
            page.screenshot(path=str(artifacts() / f"tray-{name}.png"), full_page=True)
            context.close()

        # The overview asks for the same tray as a fragment, under its own "Needs attention" heading.
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": "oodaloo_session", "value": owner.session, "url": served.app}])
        page = context.new_page()
        page.goto(f"{served.app}/businesses/{business_id}")
        score = page.locator("#tray #hygiene-score")
        score.wait_for(timeout=WAIT_MS)
        assert score.inner_text() == str(tray["hygiene"]["score"])
        assert page.locator("#tray h3#hygiene-heading").count() == 1
        page.locator("#tray").screenshot(path=str(artifacts() / "overview-tray.png"))
        context.close()
