"""Onboarding in a real browser (Debian's Chromium through Playwright) against ``oodaloo run`` as ``make run`` starts
it — the embedded default on a port of its own, the QBO sandbox mounted, the demo user on this machine: a new person
signs up, creates a business, connects QuickBooks through the mounted sandbox's OAuth server, watches the first sync
and lands on the console; a visitor on this machine lands on the demo company's console, signed in. Each step's
screenshot is saved as a test artifact; axe-core finds no serious or critical problem on the onboarding pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

from oodaloo.domains.core.demo import DEMO_EMAIL
from tests.conftest import new_database_url, unique_email
from tests.support.app_process import AppProcess, app_settings_env, free_port, oodaloo_command, running
from tests.support.browser import chromium
from tests.support.credentials import TEST_PASSWORD, TEST_SECRET_KEY
from tests.support.pages import PHONE, assert_accessible, assert_no_horizontal_overflow, screenshot, tab_to

# Playwright waits, in milliseconds: a page, and the first sync of the demo company on a loaded two-core machine.
PAGE_MS = 15_000
FIRST_SYNC_MS = 120_000


@dataclass(frozen=True)
class Running:
    base_url: str
    process: AppProcess


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("onboarding-browser")
    port = free_port()
    env = app_settings_env(
        port=port,
        database_url=new_database_url(folder, f"oodaloo_test_{worker_id}_onboarding_browser"),
        secret_key=TEST_SECRET_KEY,
        sandbox_state_file=str(folder / "sandbox-state.json"),
    )
    process = AppProcess(oodaloo_command("run"), env=env, log_path=folder / "app.log", cwd=folder)
    base_url = f"http://127.0.0.1:{port}"
    with running(process):
        process.wait_until_ready(f"{base_url}/readyz")
        yield Running(base_url, process)


def check(page: Page, name: str) -> None:
    """A step's screenshot, then what every onboarding page must be: no sideways scrolling, no serious a11y problem."""
    screenshot(page, name)
    assert_no_horizontal_overflow(page)
    assert_accessible(page)


def test_sign_up_create_connect_and_first_sync_land_on_the_console(app: Running) -> None:
    with chromium() as browser:
        page = browser.new_context(viewport=PHONE).new_page()
        page.set_default_timeout(PAGE_MS)

        page.goto(f"{app.base_url}/signup")
        check(page, "sign-up")
        tab_to(page, page.get_by_label("Your name"))  # reached from the keyboard, its focus visible
        page.get_by_label("Your name").fill("Dana Whitfield")
        page.get_by_label("Email").fill(unique_email("browser"))
        page.get_by_label("Password").fill("short")
        page.get_by_role("button", name="Create account").click()
        assert "Password must be at least 10 characters long." in page.inner_text("main")
        check(page, "sign-up-refused")
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Create account").click()

        page.wait_for_url(f"{app.base_url}/onboarding/business")
        assert page.get_by_label("Time zone").input_value() == "America/New_York"
        check(page, "business")
        page.get_by_label("Business name").fill("Harbor & Finch Design")
        page.get_by_label("Time zone").select_option("America/Chicago")
        page.get_by_role("button", name="Create business").click()

        page.wait_for_url(re.compile(r"/businesses/[0-9a-f-]{36}/connection$"))
        business_id = page.url.rsplit("/", 2)[-2]
        check(page, "connect")
        # Off to QuickBooks (the mounted sandbox's consent) and back through the OAuth callback.
        page.get_by_role("button", name="Connect QuickBooks").first.click()
        page.wait_for_url(f"{app.base_url}/businesses/{business_id}/first-sync")
        assert "Copying your books from QuickBooks" in page.inner_text("main")
        check(page, "first-sync")

        # htmx polls the progress every second and moves on by itself when the copy is done.
        page.wait_for_url(f"{app.base_url}/businesses/{business_id}", timeout=FIRST_SYNC_MS)
        page.wait_for_load_state("networkidle")
        screenshot(page, "console")
        businesses = page.context.request.get(f"{app.base_url}/api/businesses").json()
        assert [(b["id"], b["role"], b["timezone"]) for b in businesses] == [(business_id, "owner", "America/Chicago")]


def test_a_visitor_on_this_machine_lands_on_the_demo_companys_console(app: Running) -> None:
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.goto(f"{app.base_url}/")
        page.wait_for_url(re.compile(r"/businesses/[0-9a-f-]{36}$"), timeout=FIRST_SYNC_MS)
        me = page.context.request.get(f"{app.base_url}/api/me").json()
        assert me["email"] == DEMO_EMAIL
        [demo] = page.context.request.get(f"{app.base_url}/api/businesses").json()
        assert page.url == f"{app.base_url}/businesses/{demo['id']}"
        page.wait_for_load_state("networkidle")
        screenshot(page, "demo-console")
