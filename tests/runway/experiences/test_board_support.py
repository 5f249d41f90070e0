"""What the tests of the console's action pages share (no tests here): a member's browser on the pages, carrying the
session and CSRF cookies by hand (both are Secure outside development and the test server speaks plain http), forms
posted as htmx or as a browser without scripts would, and the values read back out of a page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from oodaloo.infra.auth.csrf import CSRF_COOKIE
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, ZONE, Books, serve_for_actions
from tests.support.clock import Instant, at
from tests.support.qbo import Browser, Browsers, SandboxCompany, Served, add_member, connect, new_business

# Mid-morning on a Wednesday where the businesses are (New York): their date and UTC's agree, and every date a test
# computes ("today", "in two weeks") is the one the app and the sandbox compute.
MIDWEEK = Instant(ZONE.key, time(10, 0))
ARTIFACTS = Path(os.environ.get("OODALOO_TEST_ARTIFACTS", "var/test-artifacts"))
TAGS = re.compile(r"<[^>]+>")
SPACES = re.compile(r"\s+")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def text_of(html: str) -> str:
    """What a person reads: the page's text without tags, spaces collapsed."""
    return SPACES.sub(" ", unescape(TAGS.sub(" ", html))).strip()


def artifacts_dir(name: str) -> Path:
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Console:
    """A member's browser on one business's console pages."""

    browser: Browser
    business_id: str
    csrf_cookie: str | None = None
    token: str = field(default="", repr=False)  # the CSRF token of the last page or fragment that carried one

    @property
    def base(self) -> str:
        return f"/businesses/{self.business_id}"

    def _cookies(self) -> dict[str, str]:
        cookie = f"oodaloo_session={self.browser.session}"
        if self.csrf_cookie:
            cookie += f"; {CSRF_COOKIE}={self.csrf_cookie}"
        return {"Cookie": cookie}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name.strip() == CSRF_COOKIE:
                self.csrf_cookie = rest.split(";", 1)[0]
        if response.headers.get("content-type", "").startswith("text/html"):
            found = CSRF_FIELD.search(response.text) or CSRF_META.search(response.text)
            self.token = found.group(1) if found else self.token
        return response

    def get(self, path: str, *, htmx: bool = False, **params: Any) -> httpx.Response:
        headers = {**self._cookies(), "Accept": "text/html"}
        if htmx:
            headers["HX-Request"] = "true"
        client = self.browser.client
        if not params:  # httpx would replace a query written in ``path`` with even an empty ``params``
            return self._keep(client.get(self.base + path, headers=headers))
        return self._keep(client.get(self.base + path, params=params, headers=headers))

    def post(self, path: str, data: dict[str, str] | None = None, *, htmx: bool = True) -> httpx.Response:
        """A form posted with the CSRF token of the last page seen; as htmx sends it, or as a plain browser (then
        not following the redirect, so a test sees where it goes)."""
        headers = {**self._cookies(), "Accept": "text/html"}
        if htmx:
            headers["HX-Request"] = "true"
        assert self.token, "no page with a CSRF token seen yet"
        body = {"csrf_token": self.token, **(data or {})}
        return self._keep(self.browser.client.post(self.base + path, data=body, headers=headers))


def served_midweek(settings: Settings) -> Iterator[Served]:
    """For a module's ``served`` fixture: the app beside a sandbox with jobs in-process, the clock at ``MIDWEEK``
    (ticking on from there)."""
    with at(MIDWEEK), serve_for_actions(settings) as (served, _app):
        yield served


def books_of(served: Served, browsers: Browsers, scenario: str) -> Books:
    """Like the ``books`` fixture, on a sandbox company of ``scenario`` (a "tight" one has a runway within the 13
    weeks, so a change moves it by days a test can see)."""
    owner = browsers.sign_up("console")
    business_id = new_business(owner, ZONE.key)
    realm = Realm.create(served.sandbox, scenario=scenario)
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    mirror = Harness.of(served.settings.database_url, realm, business_id)
    mirror.full_sync()
    return Books(owner, business_id, SandboxCompany(served.sandbox, realm.realm_id), mirror)


def console_of(books: Books, browser: Browser | None = None) -> Console:
    console = Console(browser or books.owner, books.business_id)
    assert console.get("/bills").status_code == 200  # the first page sets the CSRF cookie
    return console


def member(books: Books, browsers: Browsers, role: str) -> Browser:
    browser = browsers.sign_up(f"console-{role}")
    add_member(books.owner, books.business_id, browser, role)
    return browser


def input_value(page: str, name: str, *, within: str = "") -> str:
    """The value of the form field ``name`` (in the element whose id starts ``within``, if given)."""
    scope = page
    if within:
        start = page.index(f'id="{within}')
        scope = page[start:]
    match = re.search(rf'name="{re.escape(name)}"[^>]*?value="([^"]*)"', scope) or re.search(
        rf'value="([^"]*)"[^>]*?name="{re.escape(name)}"', scope
    )
    assert match, f"no field {name}"
    return unescape(match.group(1))
