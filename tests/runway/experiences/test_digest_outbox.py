"""The outbox of the embedded default, in the console: a business's Friday digest, written by the digest job, is listed
for each person it is addressed to and opened as a mail client shows it (the HTML in a sandboxed frame, its chart
inside, the plain text beside it); nobody else sees it, not even by its id. Over HTTP, and in a real browser on a
laptop and a 390 px phone (nothing overflows, no serious accessibility violation). Screenshots are test artifacts."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from html import unescape
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from oodaloo.domains.core.digest_sends import DigestKey
from oodaloo.domains.qbo.service import DigestOutcome
from oodaloo.infra.db.engine import Database
from oodaloo.settings import Settings
from oodaloo.wiring import build_runtime
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.support.browser import chromium
from tests.support.clock import Instant, at
from tests.support.qbo import Browser, Browsers, Served, add_member, connect, open_browsers

FRIDAY = Instant("America/Chicago", time(7, 15), day=date(2026, 3, 20))
WEEK = date(2026, 3, 16)
VIEWPORTS = {"laptop": (1280, 900), "phone": (390, 844)}
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def outbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def served(settings: Settings, outbox_dir: Path) -> Iterator[Served]:
    with at(FRIDAY), serve_for_actions(settings, outbox_dir=str(outbox_dir)) as (served, _app):
        yield served


@pytest.fixture(scope="module")
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@dataclass(frozen=True)
class Delivered:
    owner: Browser
    viewer: Browser
    business_id: str
    name: str
    message_id: str


@pytest.fixture(scope="module")
def delivered(served: Served, browsers: Browsers) -> Delivered:
    """A synced company whose digest of this week the digest job wrote to the outbox, for its owner and a viewer."""
    with at(FRIDAY):
        owner, viewer = browsers.sign_up("outbox-owner"), browsers.sign_up("outbox-viewer")
        created = owner.post("/api/businesses", json={"name": "Acme Supply", "timezone": FRIDAY.zone})
        assert created.status_code == 201, created.text
        business_id = created.json()["id"]
        add_member(owner, business_id, viewer, "viewer")
        realm = Realm.create(served.sandbox, scenario="tight")
        connect(owner, business_id, REDIRECT_URI, realm.realm_id)
        Harness.of(served.settings.database_url, realm, business_id).full_sync()
        key = DigestKey("business", uuid.UUID(business_id), WEEK)

        async def deliver() -> DigestOutcome:
            database = Database(served.settings.database_url)
            runtime = build_runtime(served.settings, database.sessionmaker)
            try:
                assert runtime.digests is not None
                return await runtime.digests.deliver(key)
            finally:
                await runtime.aclose()
                await database.dispose()

        assert asyncio.run(deliver()) is DigestOutcome.SENT
    name = owner.get(f"/api/businesses/{business_id}").json()["name"]
    return Delivered(owner, viewer, business_id, name, key.label)


def text_of(page: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())


def artifacts() -> Path:
    folder = Path(os.environ.get("OODALOO_TEST_ARTIFACTS", "var/test-artifacts")) / "digest"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ------------------------------------------------------------------------------------------------------ HTTP
def test_each_recipient_finds_the_digest_in_the_outbox_and_opens_it(delivered: Delivered) -> None:
    for member in (delivered.owner, delivered.viewer):
        listing = member.get("/outbox", headers={"Accept": "text/html"})
        assert listing.status_code == 200, listing.text
        assert f'href="/outbox/{delivered.message_id}"' in listing.text
        assert f"{delivered.name}: runway" in text_of(listing.text)

        opened = member.get(f"/outbox/{delivered.message_id}", headers={"Accept": "text/html"})
        assert opened.status_code == 200, opened.text
        # The HTML in a sandboxed frame (no allow-* tokens: no scripts, no same-origin access), the chart inside it.
        frame = re.search(r'<iframe sandbox srcdoc="([^"]*)"', opened.text)
        assert frame, "the message is shown in a sandboxed frame"
        inside = unescape(frame.group(1))
        assert "data:image/png;base64,iVBORw0KGgo" in inside
        assert "cid:" not in inside
        assert f"{delivered.name}</h1>" in inside
        assert "RUNWAY:" in text_of(opened.text)  # the plain-text version beside it


def test_nobody_else_sees_the_digest_even_by_its_id(delivered: Delivered, browsers: Browsers) -> None:
    stranger = browsers.sign_up("outbox-stranger")
    listing = stranger.get("/outbox", headers={"Accept": "text/html"})
    assert listing.status_code == 200
    assert delivered.message_id not in listing.text
    assert "No message yet" in text_of(listing.text)
    for message_id in (delivered.message_id, "../secret", "nothing-here"):
        refused = stranger.get(f"/outbox/{message_id}", headers={"Accept": "text/html"})
        assert refused.status_code == 404
        assert delivered.name not in refused.text


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(served: Served, delivered: Delivered) -> None:
    import httpx

    for path in ("/outbox", f"/outbox/{delivered.message_id}"):
        response = httpx.get(served.app + path, headers={"Accept": "text/html"}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/signin?next=")


# ---------------------------------------------------------------------------------------------------- browser
def overflows(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def blocking_violations(page: Page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{found['id']}: {found['help']}" for found in violations if found.get("impact") in BLOCKING]


def test_the_outbox_in_a_browser_on_a_laptop_and_a_phone(served: Served, delivered: Delivered) -> None:
    with chromium() as browser:
        for name, (width, height) in VIEWPORTS.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_cookies([{"name": "oodaloo_session", "value": delivered.owner.session, "url": served.app}])
            page = context.new_page()
            page.goto(f"{served.app}/outbox")
            assert page.get_by_role("heading", level=1, name="Outbox").is_visible()
            assert not overflows(page), f"the outbox overflows at {width} px"
            assert blocking_violations(page) == []
            page.screenshot(path=str(artifacts() / f"outbox-{name}.png"), full_page=True)

            page.get_by_role("link", name=re.compile(re.escape(delivered.name))).click()
            page.wait_for_load_state("load")
            frame = page.frame_locator("iframe[sandbox]")
            assert frame.get_by_role("heading", level=1, name=delivered.name).is_visible()
            chart = frame.locator("img[alt^='Projected free cash']")
            chart.wait_for()
            assert chart.evaluate("image => image.complete && image.naturalWidth") == 1200
            assert not overflows(page), f"the message page overflows at {width} px"
            assert blocking_violations(page) == []
            page.screenshot(path=str(artifacts() / f"digest-{name}.png"), full_page=True)
            context.close()
