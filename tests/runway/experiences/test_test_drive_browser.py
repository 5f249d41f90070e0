"""The test drive in a real browser (Debian's Chromium through Playwright), against the embedded default as ``make run``
starts it — the QBO sandbox mounted in the app, reached over HTTP at the app's own port — on a port of its own: a
visitor without an account opens /test-drive, picks "tight" and lands on that company's console; the first console is
timed from the click. Their test drive then shows when it ends, and "start over" ends it. Screenshots of each step are
saved as test artifacts; axe-core finds no serious or critical problem on the test drive's page, at 390 px wide."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from oodaloo.settings import Settings
from tests.conftest import new_database_url
from tests.runway.experiences.test_test_drive import pool_ready
from tests.support.app_process import REPO_ROOT
from tests.support.browser import chromium
from tests.support.credentials import TEST_SECRET_KEY
from tests.support.pages import serve_embedded
from tests.support.waiting import until

PAGE_MS = 30_000
PHONE = {"width": 390, "height": 844}
# The pool's first company: made, connected and synced while the visitor reads the page (slower on a loaded machine).
POOL_READY_SECONDS = 120.0
START_SECONDS = 30.0


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[tuple[str, Settings]]:
    folder = tmp_path_factory.mktemp("test-drive-browser")

    def settings_for(port: int) -> Settings:
        return Settings(
            environment="development",
            port=port,
            database_url=new_database_url(folder, f"oodaloo_test_{worker_id}_test_drive_browser"),
            secret_key=TEST_SECRET_KEY,
            sandbox_state_file=str(folder / "sandbox-state.json"),
            outbox_dir=str(folder / "outbox"),
            demo_autologin=False,  # a visitor without an account, not the demo user
            redis_url=None,
            mirror_sweep=False,
            sweep_interval_seconds=0.5,
            log_level="WARNING",
        )

    with serve_embedded(settings_for) as served:
        yield served.url, served.settings


def artifacts() -> Path:
    folder = Path(os.environ.get("OODALOO_TEST_ARTIFACTS", "var/test-artifacts"))
    folder = (folder if folder.is_absolute() else REPO_ROOT / folder) / "test-drive"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def serious_problems(page: Page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v.get("impact") in ("serious", "critical")]


def check(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"{name}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows at 390 px"
    assert serious_problems(page) == [], name


def test_a_visitor_picks_tight_and_lands_on_its_console(embedded: tuple[str, Settings]) -> None:
    base_url, settings = embedded
    assert settings.test_drive_sandbox == f"{base_url}/qbo-sandbox"
    folder = artifacts()
    with chromium() as browser:
        page = browser.new_context(viewport=PHONE).new_page()
        page.set_default_timeout(PAGE_MS)

        page.goto(f"{base_url}/test-drive")
        assert page.get_by_role("heading", name="Test drive Oodaloo").is_visible()
        check(page, folder, "01-choose")
        # While the visitor reads, the page has the pool make a company of each scenario.
        until(partial(pool_ready, settings), "the pool made", within=POOL_READY_SECONDS)

        clicked = time.perf_counter()
        with page.expect_response(lambda response: response.request.method == "POST") as started:
            page.get_by_role("button", name="Drive the tight company").click()
        landed = time.perf_counter()
        page.wait_for_url(re.compile(r"/businesses/[0-9a-f-]{36}$"))
        page.wait_for_load_state("load")
        first_console = time.perf_counter() - clicked
        print(
            f"\ntest drive in the browser: first console {first_console:.2f} s after the click (the trial "
            f"{landed - clicked:.2f} s, {started.value.headers.get('server-timing')}; the console page "
            f"{first_console - (landed - clicked):.2f} s)"
        )
        business_id = page.url.rsplit("/", 1)[-1]
        page.screenshot(path=folder / "02-console.png", full_page=True)
        [business] = page.context.request.get(f"{base_url}/api/businesses").json()
        assert business["id"] == business_id
        assert business["name"] in page.inner_text("body")

        page.goto(f"{base_url}/test-drive")
        current = page.get_by_role("region", name="Your test drive")
        assert "the tight demo company" in current.inner_text()
        assert "It ends" in current.inner_text()
        check(page, folder, "03-your-test-drive")

        current.get_by_role("button", name="Start over").click()
        page.wait_for_url(f"{base_url}/test-drive")
        assert page.get_by_role("region", name="Your test drive").count() == 0
        check(page, folder, "04-started-over")
        assert page.context.request.get(f"{base_url}/api/businesses").status == 401
