"""Console pages over real HTTP, as a browser on the development server uses them (plain-http cookies): ``/`` lands
a signed-in person on their business's console, ``/businesses`` lists what they reach, sign-in and sign-out."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from oodaloo.domains.core.demo import DEMO_EMAIL, demo_business_name, ensure_demo
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.main import create_app
from oodaloo.settings import Settings
from tests.conftest import Account
from tests.support.servers import serve

DEMO_REALM_ID = "4620816365000001"


@pytest.fixture(scope="module")
def console(settings: Settings) -> Iterator[str]:
    """A development-mode app (cookies without Secure) with loopback autologin on."""
    development = settings.model_copy(update={"environment": "development", "demo_autologin": True})
    asyncio.run(_ensure_demo(settings.database_url))
    with serve(create_app(development)) as base_url:
        yield base_url


async def _ensure_demo(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with unit_of_work(database.sessionmaker) as session:
            await ensure_demo(session, scenario="healthy", realm_id=DEMO_REALM_ID)
    finally:
        await database.dispose()


def csrf_token_in(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "form without a CSRF token"
    return match.group(1)


def demo_business_id(browser: httpx.Client) -> str:
    [business] = browser.get("/api/businesses").json()
    business_id: str = business["id"]
    return business_id


def test_loopback_visitor_is_signed_in_as_the_demo_user(console: str) -> None:
    with httpx.Client(base_url=console) as browser:
        landing = browser.get("/")
        assert landing.status_code == 303
        assert "oodaloo_session" in browser.cookies
        # Their one business: the demo company's console.
        assert landing.headers["location"] == f"/businesses/{demo_business_id(browser)}"
        page = browser.get("/businesses")
        assert page.status_code == 200
        assert DEMO_EMAIL in page.text
        assert demo_business_name("healthy") in page.text
        assert "America/Los_Angeles" in page.text
        assert DEMO_REALM_ID in page.text
        # The cookie now identifies the demo user to the API too.
        assert browser.get("/api/me").json()["email"] == DEMO_EMAIL


def test_no_autologin_behind_a_proxy(console: str) -> None:
    with httpx.Client(base_url=console) as browser:
        page = browser.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert page.status_code == 303
    assert page.headers["location"] == "/signin"


def test_signin_form_requires_its_csrf_token(console: str, make_account: Callable[..., Account]) -> None:
    account = make_account()
    with httpx.Client(base_url=console) as browser:
        browser.get("/signin")
        forged = browser.post("/signin", data={"email": account.email, "password": account.password})
        assert forged.status_code == 403
        assert "oodaloo_session" not in browser.cookies

    with httpx.Client(base_url=console) as other_browser:
        token_for_someone_else = csrf_token_in(other_browser.get("/signin").text)
    with httpx.Client(base_url=console) as browser:
        browser.get("/signin")
        replayed = browser.post(
            "/signin", data={"email": account.email, "password": account.password, "csrf_token": token_for_someone_else}
        )
        assert replayed.status_code == 403


def test_signin_page_shows_businesses_and_signout_ends_the_session(
    console: str, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    account.client.post(
        "/api/businesses", json={"name": "Northwind Studio", "timezone": "Europe/Berlin", "currency": "EUR"}
    )
    with httpx.Client(base_url=console) as browser:
        form = browser.get("/signin")
        wrong = browser.post(
            "/signin",
            data={"email": account.email, "password": "not the password", "csrf_token": csrf_token_in(form.text)},
        )
        assert wrong.status_code == 401
        assert "incorrect" in wrong.text

        signed_in = browser.post(
            "/signin",
            data={"email": account.email, "password": account.password, "csrf_token": csrf_token_in(wrong.text)},
        )
        assert signed_in.status_code == 303
        [business] = browser.get("/api/businesses").json()
        assert browser.get("/").headers["location"] == f"/businesses/{business['id']}"
        home = browser.get("/businesses")
        assert account.email in home.text
        assert "Northwind Studio" in home.text
        assert "Europe/Berlin" in home.text
        assert "EUR" in home.text

        signed_out = browser.post("/signout", data={"csrf_token": csrf_token_in(home.text)})
        assert signed_out.headers["location"] == "/signin"
        # Signed out, this loopback browser is not signed straight back in as the demo user.
        assert browser.get("/").status_code == 303
        assert browser.get("/api/me").status_code == 401


DEMO_OPTION = "Continue as the demo user"
PROXIED = {"X-Forwarded-For": "203.0.113.9"}


def test_the_demo_user_signs_back_in_after_signing_out(console: str) -> None:
    with httpx.Client(base_url=console) as browser:
        browser.get("/")
        home = browser.get("/businesses")
        assert DEMO_EMAIL in home.text
        browser.post("/signout", data={"csrf_token": csrf_token_in(home.text)})
        assert browser.get("/api/me").status_code == 401
        assert browser.get("/").status_code == 303  # signed out stays signed out: no autologin

        signin = browser.get("/signin")
        assert DEMO_OPTION in signin.text
        assert 'action="/signin/demo"' in signin.text
        back_in = browser.post("/signin/demo", data={"csrf_token": csrf_token_in(signin.text)})
        assert back_in.status_code == 303
        assert back_in.headers["location"] == "/"
        assert browser.get("/api/me").json()["email"] == DEMO_EMAIL
        assert DEMO_REALM_ID in browser.get("/businesses").text  # the demo business is theirs again


def test_continuing_as_the_demo_user_requires_the_forms_csrf_token(console: str) -> None:
    with httpx.Client(base_url=console) as browser:
        browser.get("/signin")
        forged = browser.post("/signin/demo", data={})
        assert forged.status_code == 403
        assert "oodaloo_session" not in browser.cookies
        assert browser.get("/api/me").status_code == 401


def test_no_demo_option_for_a_visitor_through_a_proxy(console: str) -> None:
    with httpx.Client(base_url=console, headers=PROXIED) as browser:
        signin = browser.get("/signin")
        assert signin.status_code == 200
        assert DEMO_OPTION not in signin.text
        refused = browser.post("/signin/demo", data={"csrf_token": csrf_token_in(signin.text)})
        assert refused.status_code == 403
        assert "only on this machine" in refused.text
        assert "oodaloo_session" not in browser.cookies
        assert browser.get("/api/me").status_code == 401


def test_no_demo_option_where_the_demo_is_off(anonymous: httpx.Client, console: str) -> None:
    # ``anonymous`` talks to the test-environment app (demo autologin off) on the same database, where the
    # ``console`` fixture made sure the demo user exists: only the setting keeps the door shut.
    signin = anonymous.get("/signin")
    assert DEMO_OPTION not in signin.text
    refused = anonymous.post("/signin/demo", data={"csrf_token": csrf_token_in(signin.text)})
    assert refused.status_code == 403
    assert "oodaloo_session" not in refused.headers.get("set-cookie", "")
