"""Onboarding over real HTTP, as a browser on the development server uses it (plain-http cookies): sign up, create a
business, connect QuickBooks through the sandbox's OAuth server, watch the first sync, land on the console; the forms'
errors; disconnecting and the "needs reconnect" banner; where ``/`` lands; ``?next=`` stays on this site."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from oodaloo.domains.qbo.auth import RECONNECT_MESSAGE
from oodaloo.infra.jobs.smart_sync import ReconnectRequired
from oodaloo.runway.experiences.onboarding import local_path
from oodaloo.settings import Settings
from oodaloo.wiring import worker_runtime
from tests.conftest import unique_email
from tests.domains.qbo.mirror_support import Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.support.credentials import TEST_PASSWORD
from tests.support.qbo import Browsers, SandboxCompany, Served, add_member, consent, open_browsers
from tests.support.waiting import until

# The first sync of a sandbox company on a loaded two-core machine: seconds, bounded generously.
FIRST_SYNC_SECONDS = 90.0
# Each QuickBooks call this slow, a first sync of a sandbox company takes a few seconds: long enough to watch.
SLOW_QUICKBOOKS_MS = 400


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    """The app beside a standalone sandbox, in development (cookies without Secure, as ``make run`` serves them),
    jobs in-process and no periodic sync: a first sync happens only because onboarding asks for it."""
    with serve_for_actions(settings, environment="development") as (served, _app):
        yield served


@pytest.fixture
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@pytest.fixture
def visitor(served: Served) -> Iterator[httpx.Client]:
    """A browser with its own cookie jar, on nobody's account yet."""
    with httpx.Client(base_url=served.app, timeout=30) as client:
        yield client


def new_company(served: Served) -> SandboxCompany:
    """A sandbox company of the test's own (created with a generous timeout: the machine may be busy)."""
    return SandboxCompany(served.sandbox, Realm.create(served.sandbox).realm_id)


def csrf_token_in(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "form without a CSRF token"
    return match.group(1)


@dataclass
class Person:
    email: str
    browser: httpx.Client

    def form(self, path: str, **fields: str) -> httpx.Response:
        """Post the form of the page at ``path``, as a person filling it in (with the page's CSRF token)."""
        page = self.browser.get(path)
        assert page.status_code == 200, page.text
        return self.browser.post(path, data={"csrf_token": csrf_token_in(page.text), **fields})


def sign_up(browser: httpx.Client, name: str = "Dana Whitfield") -> Person:
    email = unique_email("onboarding")
    person = Person(email, browser)
    created = person.form("/signup", display_name=name, email=email, password=TEST_PASSWORD)
    assert (created.status_code, created.headers["location"]) == (303, "/onboarding/business"), created.text
    return person


def create_business(person: Person, name: str = "Brightline Studio", timezone: str = "Europe/Berlin") -> str:
    created = person.form("/onboarding/business", name=name, timezone=timezone, currency="EUR")
    assert created.status_code == 303, created.text
    match = re.fullmatch(r"/businesses/([0-9a-f-]{36})/connection", created.headers["location"])
    assert match, created.headers["location"]
    return match.group(1)


def connect_through_pages(served: Served, person: Person, business_id: str, realm_id: str) -> httpx.Response:
    """Press "Connect QuickBooks", let the sandbox consent to ``realm_id``, and return the callback's answer."""
    page = person.browser.get(f"/businesses/{business_id}/connection")
    started = person.browser.post(
        f"/businesses/{business_id}/connection/connect", data={"csrf_token": csrf_token_in(page.text)}
    )
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith(f"{served.sandbox}/connect/oauth2?")
    return person.browser.get(consent(started.headers["location"], REDIRECT_URI, realm_id))


def follow(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow our own redirects (never off this site) to the page they end on."""
    while response.status_code in (302, 303):
        response = browser.get(response.headers["location"])
    return response


# -------------------------------------------------------------------------------------------------- the journey
def test_sign_up_create_a_business_connect_and_land_on_the_console_after_the_first_sync(
    served: Served, visitor: httpx.Client
) -> None:
    company = new_company(served)
    assert visitor.get("/").headers["location"] == "/signin"

    person = sign_up(visitor)
    form = visitor.get("/onboarding/business")
    assert '<option value="America/New_York" selected>' in form.text  # a sensible default zone
    assert '<option value="USD" selected>' in form.text
    assert visitor.get("/").headers["location"] == "/onboarding/business"  # signed in, with no business yet

    business_id = create_business(person)
    connection = visitor.get(f"/businesses/{business_id}/connection")
    assert "QuickBooks is not connected yet" in connection.text
    assert "Connect QuickBooks" in connection.text

    callback = connect_through_pages(served, person, business_id, company.realm_id)
    assert callback.status_code == 303, callback.text
    first_sync = follow(visitor, callback)
    assert str(first_sync.url).endswith(f"/businesses/{business_id}/first-sync"), first_sync.url
    assert "Copying your books from QuickBooks" in first_sync.text
    assert "Starting…" in first_sync.text  # the page asked for the sync; no job had picked it up as it answered
    assert f'hx-get="/businesses/{business_id}/first-sync/progress" hx-trigger="every 1s ' in first_sync.text

    seen: list[str] = []

    def moved_on() -> str | None:
        partial = visitor.get(f"/businesses/{business_id}/first-sync/progress", headers={"HX-Request": "true"})
        assert partial.status_code == 200, partial.text
        seen.append(partial.text)
        return partial.headers.get("HX-Redirect")

    destination = until(moved_on, "the first sync to finish", within=FIRST_SYNC_SECONDS)
    assert destination == f"/businesses/{business_id}"
    # Until then every poll showed where the copy stood (queued, or how far each kind of record got), never an error.
    assert seen[-1].strip() == ""
    for text in seen[:-1]:
        assert "Starting…" in text or "kinds of records done" in text, text
    # From now on the business's home is its console, and the first-sync page says so too.
    assert visitor.get("/").headers["location"] == f"/businesses/{business_id}"
    done = visitor.get(f"/businesses/{business_id}/first-sync")
    assert (done.status_code, done.headers["location"]) == (303, f"/businesses/{business_id}")
    # The business took its QuickBooks company's name; the connection page says it is connected.
    company_name = company.read("CompanyInfo", company.realm_id)["CompanyName"]
    connected = visitor.get(f"/businesses/{business_id}/connection")
    assert company_name in connected.text
    assert f"Connected to QuickBooks company <code>{company.realm_id}</code>" in connected.text
    assert "needs reconnecting" not in connected.text


def test_progress_lists_each_kind_of_record_as_it_is_copied(served: Served, visitor: httpx.Client) -> None:
    """Each kind of record is listed with its count as the copy goes on, finished kinds marked done. QuickBooks is made
    slow (the sandbox's injected latency) so that the copy takes long enough to be watched."""
    company = new_company(served)
    person = sign_up(visitor)
    business_id = create_business(person)
    follow(visitor, connect_through_pages(served, person, business_id, company.realm_id))
    snapshots: list[str] = []

    def progress() -> bool:
        partial = visitor.get(f"/businesses/{business_id}/first-sync/progress", headers={"HX-Request": "true"})
        assert not partial.headers.get("HX-Redirect"), "the copy ended before its progress was seen"
        snapshots.append(partial.text)
        return "Invoices:" in partial.text and "done" in partial.text and "waiting" in partial.text

    set_faults(served, latency_ms=SLOW_QUICKBOOKS_MS)
    try:
        until(progress, "a copy part way through", within=FIRST_SYNC_SECONDS, poll_seconds=0.05)
    finally:
        set_faults(served, latency_ms=0)
    caught = snapshots[-1]
    for label in ("Company details:", "Accounts:", "Vendors:", "Customers:", "Bills:", "Invoices:", "Payment terms:"):
        assert label in caught
    assert re.search(r"\d+ of \d+ kinds of records done", caught)
    assert "record" in caught


def test_a_failed_first_sync_says_why_and_can_be_tried_again(served: Served, visitor: httpx.Client) -> None:
    company = new_company(served)
    person = sign_up(visitor)
    business_id = create_business(person)
    callback = connect_through_pages(served, person, business_id, company.realm_id)

    def stopped() -> str | None:
        partial = visitor.get(f"/businesses/{business_id}/first-sync/progress", headers={"HX-Request": "true"})
        assert not partial.headers.get("HX-Redirect"), "the copy succeeded through the errors"
        return partial.text if "The copy stopped" in partial.text else None

    set_faults(served, error_rate=1.0)  # QuickBooks fails every call, however often the sync retries
    try:
        follow(visitor, callback)
        failed = until(stopped, "the first sync to fail", within=FIRST_SYNC_SECONDS)
    finally:
        set_faults(served, error_rate=0.0)
    assert "Try again" in failed
    assert "What was copied is kept" in failed
    assert "QBOUnavailable" not in failed  # said for a person, without the exception's name

    # "Try again" asks for another run at once: a new attempt is made (and, QuickBooks' trouble lingering in
    # SmartSync's open circuit, stops again; the page says so in the same words).
    first_failure = visitor.get(f"/api/businesses/{business_id}/sync").json()["last_error"]["at"]
    retried = visitor.post(f"/businesses/{business_id}/first-sync", data={"csrf_token": csrf_token_in(failed)})
    assert (retried.status_code, retried.headers["location"]) == (303, f"/businesses/{business_id}/first-sync")

    def failed_again() -> bool:
        error = visitor.get(f"/api/businesses/{business_id}/sync").json()["last_error"]
        return error is not None and error["at"] > first_failure

    until(failed_again, "the retried sync's own attempt", within=FIRST_SYNC_SECONDS)
    assert "The copy stopped" in until(stopped, "the retry to be reported", within=FIRST_SYNC_SECONDS)


def test_quickbooks_refusing_the_first_sync_leads_to_reconnecting(served: Served, visitor: httpx.Client) -> None:
    company = new_company(served)
    person = sign_up(visitor)
    business_id = create_business(person)
    callback = connect_through_pages(served, person, business_id, company.realm_id)
    revoked = httpx.post(f"{served.sandbox}/_sandbox/tokens/revoke", json={"realm_id": company.realm_id}, timeout=30)
    revoked.raise_for_status()
    follow(visitor, callback)  # the first-sync page asks for the sync, which QuickBooks refuses

    def moved_on() -> str | None:
        partial = visitor.get(f"/businesses/{business_id}/first-sync/progress", headers={"HX-Request": "true"})
        return partial.headers.get("HX-Redirect")

    assert until(moved_on, "the refused sync", within=FIRST_SYNC_SECONDS) == f"/businesses/{business_id}/connection"
    page = visitor.get(f"/businesses/{business_id}/connection")
    assert "QuickBooks needs reconnecting." in page.text
    assert "Reconnect QuickBooks" in page.text


def set_faults(served: Served, **settings: float) -> None:
    """The sandbox's injected latency or error rate, for every company of the module's sandbox."""
    answer = httpx.post(f"{served.sandbox}/_sandbox/faults", json=settings, timeout=30)
    answer.raise_for_status()


# -------------------------------------------------------------------------------------------------- sign-up errors
def test_sign_up_errors_are_shown_on_the_form_by_field(
    served: Served, visitor: httpx.Client, browsers: Browsers
) -> None:
    taken = browsers.sign_up("taken")
    person = Person(unique_email("form"), visitor)

    duplicate = person.form("/signup", display_name="Dana", email=taken.email.upper(), password=TEST_PASSWORD)
    assert duplicate.status_code == 409
    assert "An account with this email already exists." in duplicate.text
    assert 'id="email" name="email" type="email" value="' in duplicate.text
    assert 'aria-invalid="true"' in duplicate.text

    weak = person.form("/signup", display_name="Dana", email=person.email, password="short")
    assert weak.status_code == 422
    assert "Password must be at least 10 characters long." in weak.text
    assert "short" not in re.findall(r'value="([^"]*)"', weak.text)  # a password is never echoed back
    assert 'value="Dana"' in weak.text  # what was typed is kept

    nameless = person.form("/signup", display_name="  ", email="not-an-email", password="aaaaaaaaaaaa")
    assert nameless.status_code == 422
    assert "Enter your name." in nameless.text
    assert "Enter an email address like name@example.com." in nameless.text
    assert "Password is too simple" in nameless.text  # every problem at once

    # None of these made an account: the email is still free.
    signin = {"email": person.email, "password": TEST_PASSWORD}
    assert httpx.post(f"{served.app}/api/auth/signin", json=signin, timeout=30).status_code == 401
    assert "oodaloo_session" not in visitor.cookies


def test_the_sign_up_form_requires_its_csrf_token(visitor: httpx.Client) -> None:
    visitor.get("/signup")
    email = unique_email("forged")
    forged = visitor.post("/signup", data={"display_name": "Dana", "email": email, "password": TEST_PASSWORD})
    assert forged.status_code == 403
    assert "Your form expired" in forged.text
    assert "oodaloo_session" not in visitor.cookies


def test_business_form_errors_name_the_field(visitor: httpx.Client) -> None:
    person = sign_up(visitor)
    refused = person.form("/onboarding/business", name=" ", timezone="Mars/Olympus_Mons", currency="XYZ")
    assert refused.status_code == 422
    assert "Enter the business&#39;s name." in refused.text
    assert "&#39;Mars/Olympus_Mons&#39; is not an IANA time zone name" in refused.text
    assert "&#39;XYZ&#39; is not an ISO 4217 currency code" in refused.text
    assert visitor.get("/api/businesses").json() == []  # nothing half-made

    forged = visitor.post("/onboarding/business", data={"name": "Acme", "timezone": "UTC", "currency": "USD"})
    assert forged.status_code == 403
    assert visitor.get("/api/businesses").json() == []


def test_creating_a_business_needs_a_sign_in(visitor: httpx.Client) -> None:
    page = visitor.get("/onboarding/business")
    assert (page.status_code, page.headers["location"]) == (303, "/signin?next=/onboarding/business")


# ------------------------------------------------------------------------------------------ connection and banner
def connected_business(served: Served, visitor: httpx.Client) -> tuple[Person, str, SandboxCompany]:
    company = new_company(served)
    person = sign_up(visitor)
    business_id = create_business(person)
    assert connect_through_pages(served, person, business_id, company.realm_id).status_code == 303
    return person, business_id, company


def test_disconnecting_asks_first_then_the_banner_offers_to_reconnect(served: Served, visitor: httpx.Client) -> None:
    person, business_id, company = connected_business(served, visitor)
    banner = visitor.get(f"/businesses/{business_id}/connection/banner")
    assert banner.status_code == 200
    assert "QuickBooks" not in banner.text  # a working connection shows no banner

    confirm = visitor.get(f"/businesses/{business_id}/connection/disconnect")
    assert confirm.status_code == 200
    assert "Disconnect QuickBooks?" in confirm.text
    assert company.realm_id in confirm.text
    assert visitor.get(f"/api/businesses/{business_id}/qbo/connection").json()["status"] == "connected"

    done = visitor.post(
        f"/businesses/{business_id}/connection/disconnect", data={"csrf_token": csrf_token_in(confirm.text)}
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/businesses/{business_id}/connection")
    assert visitor.get(f"/api/businesses/{business_id}/qbo/connection").json()["status"] == "disconnected"
    grants = httpx.get(f"{served.sandbox}/_sandbox/tokens", timeout=30).json()["connections"]
    assert not [grant for grant in grants if grant["realm_id"] == company.realm_id]  # revoked at QuickBooks too

    page = visitor.get(f"/businesses/{business_id}/connection")
    assert "QuickBooks is disconnected." in page.text
    assert "Reconnect QuickBooks" in page.text
    partial = visitor.get(f"/businesses/{business_id}/connection/banner", headers={"HX-Request": "true"})
    assert "QuickBooks is disconnected." in partial.text

    # Reconnecting from the banner goes through QuickBooks again and clears it.
    reconnected = connect_through_pages(served, person, business_id, company.realm_id)
    assert reconnected.status_code == 303
    assert "QuickBooks" not in visitor.get(f"/businesses/{business_id}/connection/banner").text


def test_a_connection_quickbooks_refuses_shows_the_needs_reconnect_banner(
    served: Served, visitor: httpx.Client
) -> None:
    _person, business_id, company = connected_business(served, visitor)
    httpx.post(
        f"{served.sandbox}/_sandbox/tokens/revoke", json={"realm_id": company.realm_id}, timeout=30
    ).raise_for_status()
    with pytest.raises(ReconnectRequired):
        asyncio.run(refresh_as_a_worker(served.settings, uuid.UUID(business_id)))

    banner = visitor.get(f"/businesses/{business_id}/connection/banner")
    assert "QuickBooks needs reconnecting." in banner.text
    assert RECONNECT_MESSAGE in banner.text
    assert "Reconnect QuickBooks" in banner.text


async def refresh_as_a_worker(settings: Settings, business_id: uuid.UUID) -> None:
    """What a worker does when QuickBooks refuses its access token: refresh, which QuickBooks refuses too."""
    runtime = await worker_runtime(settings)
    try:
        credentials = runtime.connections.credentials(business_id)
        await credentials.refresh_after_unauthorized(await credentials.access_token())
    finally:
        await runtime.aclose()


def test_only_owners_disconnect_and_only_those_who_act_connect(
    served: Served, visitor: httpx.Client, browsers: Browsers
) -> None:
    person, business_id, _company = connected_business(served, visitor)
    owner = browsers.open(person.email, visitor.cookies["oodaloo_session"])
    for role in ("advisor", "viewer"):
        member = browsers.sign_up(role)
        add_member(owner, business_id, member, role)
        with httpx.Client(base_url=served.app, cookies={"oodaloo_session": member.session}) as browser:
            page = browser.get(f"/businesses/{business_id}/connection")
            assert page.status_code == 200
            assert "Disconnect QuickBooks" not in page.text
            refused = browser.get(f"/businesses/{business_id}/connection/disconnect")
            assert refused.status_code == 403
            assert "the owner role" in refused.text
            token = csrf_token_in(page.text)
            assert (
                browser.post(f"/businesses/{business_id}/connection/disconnect", data={"csrf_token": token}).status_code
                == 403
            )
            assert (
                browser.post(f"/businesses/{business_id}/connection/connect", data={"csrf_token": token}).status_code
                == 403
            )
    assert visitor.get(f"/api/businesses/{business_id}/qbo/connection").json()["status"] == "connected"


def test_a_stranger_sees_no_connection_page(served: Served, visitor: httpx.Client, browsers: Browsers) -> None:
    _person, business_id, _company = connected_business(served, visitor)
    stranger = browsers.sign_up("stranger")
    with httpx.Client(base_url=served.app, cookies={"oodaloo_session": stranger.session}) as browser:
        for path in ("connection", "connection/banner", "connection/disconnect", "first-sync"):
            assert browser.get(f"/businesses/{business_id}/{path}").status_code == 404


def test_forged_disconnects_are_refused(served: Served, visitor: httpx.Client) -> None:
    _person, business_id, _company = connected_business(served, visitor)
    forged = visitor.post(f"/businesses/{business_id}/connection/disconnect", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert visitor.get(f"/api/businesses/{business_id}/qbo/connection").json()["status"] == "connected"


# ---------------------------------------------------------------------------------------------- where / lands
def test_home_lands_by_how_many_businesses_and_whether_an_advisor(
    served: Served, visitor: httpx.Client, browsers: Browsers
) -> None:
    person = sign_up(visitor)
    first = create_business(person, name="One")
    assert visitor.get("/").headers["location"] == f"/businesses/{first}"  # not connected: straight to its console
    create_business(person, name="Two")
    assert visitor.get("/").headers["location"] == "/businesses"
    listing = visitor.get("/businesses")
    assert listing.status_code == 200
    assert f'href="/businesses/{first}"' in listing.text

    advisor = browsers.sign_up("advisor")
    owner = browsers.open(person.email, visitor.cookies["oodaloo_session"])
    add_member(owner, first, advisor, "advisor")
    with httpx.Client(base_url=served.app, cookies={"oodaloo_session": advisor.session}) as browser:
        assert browser.get("/").headers["location"] == f"/businesses/{first}"  # one client: its console
        second_owner = browsers.sign_up("owner2")
        other = browsers.open(second_owner.email, second_owner.session)
        response = other.post("/api/businesses", json={"name": "Three", "timezone": "UTC"})
        add_member(other, response.json()["id"], advisor, "advisor")
        assert browser.get("/").headers["location"] == "/portfolio"  # several clients: the portfolio


# ------------------------------------------------------------------------------------------------ ?next= is local
@pytest.mark.parametrize(
    ("candidate", "kept"),
    [
        ("/businesses/1/bills", True),
        ("/portfolio?sort=risk", True),
        ("https://evil.example/", False),
        ("//evil.example/path", False),
        ("/\\evil.example", False),
        ("/\t/evil.example", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_only_local_paths_are_next(candidate: str, kept: bool) -> None:
    assert (local_path(candidate) == candidate) is kept


def test_sign_in_returns_to_next_but_never_to_another_site(visitor: httpx.Client, browsers: Browsers) -> None:
    account = browsers.sign_up("next")
    signin = visitor.get("/signin", params={"next": "/portfolio"})
    assert 'name="next" value="/portfolio"' in signin.text
    back = visitor.post(
        "/signin",
        data={
            "email": account.email,
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token_in(signin.text),
            "next": "/portfolio",
        },
    )
    assert (back.status_code, back.headers["location"]) == (303, "/portfolio")

    for hostile in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        page = visitor.get("/signin", params={"next": hostile})
        assert "evil.example" not in page.text
        signed_in = visitor.post(
            "/signin",
            data={
                "email": account.email,
                "password": TEST_PASSWORD,
                "csrf_token": csrf_token_in(page.text),
                "next": hostile,
            },
        )
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")


def test_a_console_page_sends_a_signed_out_visitor_to_sign_in_and_back(served: Served, visitor: httpx.Client) -> None:
    person = sign_up(visitor)
    business_id = create_business(person)
    with httpx.Client(base_url=served.app) as stranger:
        sent = stranger.get(f"/businesses/{business_id}/connection")
        assert sent.headers["location"] == f"/signin?next=/businesses/{business_id}/connection"
        signin = stranger.get(sent.headers["location"])
        back = stranger.post(
            "/signin",
            data={
                "email": person.email,
                "password": TEST_PASSWORD,
                "csrf_token": csrf_token_in(signin.text),
                "next": f"/businesses/{business_id}/connection",
            },
        )
        assert back.headers["location"] == f"/businesses/{business_id}/connection"
        assert stranger.get(back.headers["location"]).status_code == 200
