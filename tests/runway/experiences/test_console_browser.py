"""The overview and the settings page in a real browser (Debian's Chromium through Playwright): on a laptop and on a
390 px phone nothing overflows sideways, axe-core finds nothing serious, the chart is drawn, and choosing a week loads
its items in place; screenshots of each are saved as test artifacts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.support.browser import chromium
from tests.support.clock import Instant, at
from tests.support.qbo import Browsers, Served, connect, new_business

MORNING = Instant("America/New_York", time(10, 0))
VIEWPORTS = {"laptop": (1280, 800), "phone": (390, 844)}
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with at(MORNING), serve_for_actions(settings) as (served, _app):
        yield served


REPO_ROOT = Path(__file__).resolve().parents[3]


def artifacts() -> Path:
    folder = Path(os.environ.get("OODALOO_TEST_ARTIFACTS", "var/test-artifacts"))
    folder = (folder if folder.is_absolute() else REPO_ROOT / folder) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def serious_problems(page: Page) -> list[str]:
    """What axe-core finds serious or critical on the page as it stands."""
    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']}: {v['help']} ({[node['target'] for node in v['nodes']]})"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def overflows(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def test_the_overview_fits_a_laptop_and_a_phone_and_opens_a_week(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up("console-browser")
    business_id = new_business(owner, timezone=MORNING.zone)
    realm = Realm.create(served.sandbox, scenario="crisis")
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    Harness.of(served.settings.database_url, realm, business_id).full_sync()
    runway = owner.get(f"/api/businesses/{business_id}/runway").json()
    run_out_week = runway["runway"]["runs_out_week"]
    assert run_out_week is not None

    with chromium() as browser:
        for name, (width, height) in VIEWPORTS.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_cookies([{"name": "oodaloo_session", "value": owner.session, "url": served.app}])
            page = context.new_page()
            page.goto(f"{served.app}/businesses/{business_id}")
            page.wait_for_load_state("networkidle")
            assert page.locator("svg.runway-chart").is_visible()
            assert page.locator("svg.runway-chart line.run-out").count() == 1
            assert not overflows(page), f"the overview overflows sideways at {width} px"
            page.screenshot(path=str(artifacts() / f"overview-{name}.png"), full_page=True)
            assert serious_problems(page) == []

            # Choosing the week it runs out in lists that week's items in place, without leaving the page.
            page.get_by_role("link", name=f"Week {run_out_week} ").first.click()
            heading = page.locator(f"#week-{run_out_week}-heading")
            heading.wait_for(timeout=WAIT_MS)
            assert page.url.endswith(f"/businesses/{business_id}")
            assert page.locator("#week-detail ul.week-items > li").count() > 0
            assert not overflows(page), f"the week's items overflow sideways at {width} px"
            heading.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts() / f"overview-week-{name}.png"), full_page=True)
            assert serious_problems(page) == []

            # The reserves and recurring items page, with its forms, fits too and reads well to assistive technology.
            page.goto(f"{served.app}/businesses/{business_id}/settings")
            page.locator("details").first.locator("summary").click()
            assert not overflows(page), f"the settings page overflows sideways at {width} px"
            page.screenshot(path=str(artifacts() / f"settings-{name}.png"), full_page=True)
            assert serious_problems(page) == []
            context.close()
