"""Helpers for tests that connect a business to a QBO sandbox over real HTTP, as a signed-in browser would, and that
arrange QBO data through the sandbox's own API (a token minted by its admin path)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import FastAPI

from oodaloo.main import create_app
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from oodaloo.settings import Settings
from tests.conftest import unique_email
from tests.support.credentials import TEST_PASSWORD, session_cookie_of
from tests.support.servers import serve

DEFAULT_REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"


@dataclass(frozen=True)
class Served:
    """An app served beside a standalone sandbox."""

    app: str
    sandbox: str
    settings: Settings


@contextlib.contextmanager
def served_beside_a_sandbox(
    settings: Settings, *, redirect_uri: str = DEFAULT_REDIRECT_URI, **overrides: Any
) -> Iterator[tuple[Served, FastAPI]]:
    """A standalone sandbox (throttling off) and the app from ``settings`` pointed at it, with ``overrides``; yields
    both addresses and the app itself (to swap a dependency for one test)."""
    with serve(create_sandbox_app(SandboxConfig(limits=LimitsConfig(enabled=False)))) as sandbox:
        app_settings = settings.model_copy(
            update={
                "qbo_discovery_url": f"{sandbox}/.well-known/openid_configuration",
                "qbo_api_base_url": sandbox,
                "qbo_redirect_uri": redirect_uri,
                **overrides,
            }
        )
        app = create_app(app_settings)
        with serve(app) as app_url:
            yield Served(app_url, sandbox, app_settings), app


@dataclass
class Browser:
    """A signed-in user's browser: carries the session cookie by hand (it is Secure outside development)."""

    email: str
    session: str
    client: httpx.Client

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(url, **kwargs)


@dataclass
class Browsers:
    """Every browser a test opened, closed at its end."""

    served: Served
    opened: list[Browser] = field(default_factory=list)

    def sign_up(self, label: str = "qbo") -> Browser:
        email = unique_email(label)
        response = httpx.post(
            f"{self.served.app}/api/auth/signup", json={"email": email, "password": TEST_PASSWORD}, timeout=30
        )
        assert response.status_code == 201, response.text
        return self.open(email, session_cookie_of(response))

    def sign_in_again(self, email: str) -> Browser:
        response = httpx.post(
            f"{self.served.app}/api/auth/signin", json={"email": email, "password": TEST_PASSWORD}, timeout=30
        )
        assert response.status_code == 200, response.text
        return self.open(email, session_cookie_of(response))

    def open(self, email: str, session: str) -> Browser:
        client = httpx.Client(base_url=self.served.app, headers={"Cookie": f"oodaloo_session={session}"}, timeout=30)
        self.opened.append(Browser(email, session, client))
        return self.opened[-1]

    def close(self) -> None:
        for browser in self.opened:
            browser.client.close()


def open_browsers(served: Served) -> Iterator[Browsers]:
    """For a fixture: ``yield from open_browsers(served)``."""
    browsers = Browsers(served)
    try:
        yield browsers
    finally:
        browsers.close()


def new_business(owner: Browser, timezone: str = "America/New_York") -> str:
    response = owner.post("/api/businesses", json={"name": "Acme Supply", "timezone": timezone})
    assert response.status_code == 201, response.text
    business_id: str = response.json()["id"]
    return business_id


def add_member(owner: Browser, business_id: str, member: Browser, role: str) -> None:
    response = owner.post(f"/api/businesses/{business_id}/members", json={"email": member.email, "role": role})
    assert response.status_code == 201, response.text


def authorize_url(browser: Browser, business_id: str) -> str:
    response = browser.get(f"/api/businesses/{business_id}/qbo/connect", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    url: str = response.json()["authorize_url"]
    return url


def consent(url: str, redirect_uri: str, realm_id: str | None = None) -> str:
    """QBO's part: the sandbox consents at once (to ``realm_id`` when given, as a user picking a company would);
    returns the callback's path and query on our app."""
    response = httpx.get(f"{url}&{urlencode({'realmId': realm_id})}" if realm_id else url, timeout=30)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    return f"{location.path}?{location.query}"


def connect(browser: Browser, business_id: str, redirect_uri: str, realm_id: str | None = None) -> None:
    response = browser.get(consent(authorize_url(browser, business_id), redirect_uri, realm_id))
    assert response.status_code == 303, response.text


def connection(browser: Browser, business_id: str) -> dict[str, Any]:
    response = browser.get(f"/api/businesses/{business_id}/qbo/connection")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --------------------------------------------------------------------------------- the sandbox's side of things
# How often a test's own read of a sandbox company is sent again after a 429 (the app under test shares its limits).
THROTTLED_RETRIES = 3


@dataclass
class SandboxCompany:
    """One sandbox realm, read and written through its /v3 API with a token from the admin path."""

    sandbox: str
    realm_id: str

    @classmethod
    def create(cls, sandbox: str) -> SandboxCompany:
        """A new realm of its own (~0.5 s), so what a test does to its tokens or data touches no other test."""
        # Generating a company is CPU work: on a busy machine it can take longer than httpx's 5 s default.
        response = httpx.post(f"{sandbox}/_sandbox/realms", json={"scenario": "healthy"}, timeout=60)
        assert response.status_code == 201, response.text
        return cls(sandbox, response.json()["realm_id"])

    def _api(self) -> httpx.Client:
        minted = httpx.post(f"{self.sandbox}/_sandbox/tokens", json={"realm_id": self.realm_id}, timeout=30)
        minted.raise_for_status()
        return httpx.Client(
            base_url=f"{self.sandbox}/v3/company/{self.realm_id}",
            headers={"Authorization": f"Bearer {minted.json()['access_token']}", "Accept": "application/json"},
            timeout=30,
        )

    def query(self, statement: str) -> list[dict[str, Any]]:
        with self._api() as api:
            response = api.get("/query", params={"query": statement})
            for _ in range(THROTTLED_RETRIES):
                # The app under test may have spent the realm's second window just now: wait as QBO says, once more.
                if response.status_code != 429:
                    break
                time.sleep(float(response.headers.get("Retry-After", "1")))
                response = api.get("/query", params={"query": statement})
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()["QueryResponse"]
        rows: list[dict[str, Any]] = next((value for value in page.values() if isinstance(value, list)), [])
        return rows

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        with self._api() as api:
            response = api.get(f"/{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()[entity]
        return body

    def write(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._api() as api:
            response = api.post(f"/{entity.lower()}", json=body)
        assert response.status_code == 200, response.text
        written: dict[str, Any] = response.json()[entity]
        return written

    def void(self, entity: str, entity_id: str) -> None:
        current = self.read(entity, entity_id)
        with self._api() as api:
            response = api.post(
                f"/{entity.lower()}",
                params={"operation": "update", "include": "void"},
                json={"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True},
            )
        assert response.status_code == 200, response.text

    def account_id(self, account_type: str) -> str:
        rows = self.query(f"SELECT * FROM Account WHERE AccountType = '{account_type}' MAXRESULTS 1")
        assert rows, f"the sandbox company has no {account_type} account"
        account_id: str = rows[0]["Id"]
        return account_id

    def vendor_ids(self) -> list[str]:
        return [row["Id"] for row in self.query("SELECT * FROM Vendor WHERE Active = true MAXRESULTS 5")]

    def new_bill(self, amount: str, vendor_id: str | None = None) -> dict[str, Any]:
        """An open bill of ``amount`` (to the first vendor unless ``vendor_id``), booked to an expense account."""
        return self.write(
            "Bill",
            {
                "VendorRef": {"value": vendor_id or self.vendor_ids()[0]},
                "Line": [
                    {
                        "Amount": amount,
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": self.account_id("Expense")}},
                    }
                ],
            },
        )

    def bill_balance(self, bill_id: str) -> Decimal:
        return Decimal(str(self.read("Bill", bill_id)["Balance"]))

    def payments_of_bill(self, bill_id: str) -> list[dict[str, Any]]:
        payments = self.query("SELECT * FROM BillPayment MAXRESULTS 1000")
        return [
            payment
            for payment in payments
            if any(link["TxnId"] == bill_id for line in payment.get("Line", []) for link in line.get("LinkedTxn", []))
        ]

    def deactivate(self, entity: str, entity_id: str) -> None:
        current = self.read(entity, entity_id)
        self.write(entity, {"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True, "Active": False})
