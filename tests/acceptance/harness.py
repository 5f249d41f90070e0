"""The acceptance harness: a standalone QBO sandbox on loopback, the app pointed at it, and a connected customer.

Shared by the acceptance tests and ``benchmarks/smartsync_bench.py``. Everything goes over real HTTP: the sandbox's
``/_sandbox`` admin paths and ``/v3`` API for set-up and verification, the app's API for what a customer does.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette

from oodaloo.infra.jobs.actions import MARKER_PREFIX
from oodaloo.main import create_app
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import FaultConfig, LimitsConfig, SandboxConfig
from oodaloo.settings import Settings
from tests.support.app_process import AppProcess, app_settings_env, free_port, oodaloo_command
from tests.support.credentials import SESSION_COOKIE, TEST_PASSWORD, TEST_SECRET_KEY, session_cookie_of
from tests.support.servers import serve

# The app's OAuth callback; the host is never dialled (the test follows QBO's redirect onto the app itself).
REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
ADMIN_TIMEOUT_SECONDS = 60.0
PAGE_SIZE = 1000
# A quiet sandbox: no latency, no faults (set before set-up and before verification).
CALM = {"error_rate": 0.0, "latency_ms": 0.0, "jitter_ms": 0.0}
JSONObject = dict[str, Any]


def marker_of(action_id: str) -> str:
    """The marker the action log writes into the QBO object (PrivateNote) of the action ``action_id``."""
    return MARKER_PREFIX + uuid.UUID(action_id).hex


def sandbox_config(*, limits: bool, seed: int = 42) -> SandboxConfig:
    return SandboxConfig(limits=LimitsConfig(enabled=limits), faults=FaultConfig(seed=seed), seed=seed)


def app_settings(base: Settings, sandbox_url: str, **overrides: Any) -> Settings:
    """``base`` pointed at the standalone sandbox at ``sandbox_url`` (embedded sandbox off), with ``overrides``."""
    return base.model_copy(
        update={
            "embedded_sandbox": False,
            "demo_autologin": False,
            "qbo_discovery_url": f"{sandbox_url}/.well-known/openid_configuration",
            "qbo_api_base_url": sandbox_url,
            "qbo_redirect_uri": REDIRECT_URI,
            **overrides,
        }
    )


# ------------------------------------------------------------------------------------------------------ sandbox
class RealmApi:
    """Direct ``/v3`` access to one realm with a minted token: set-up and verification, bypassing the app."""

    def __init__(self, sandbox_url: str, realm_id: str) -> None:
        minted = httpx.post(f"{sandbox_url}/_sandbox/tokens", json={"realm_id": realm_id}, timeout=30)
        minted.raise_for_status()
        self.realm_id = realm_id
        self.client = httpx.Client(
            base_url=f"{sandbox_url}/v3/company/{realm_id}",
            headers={"Authorization": f"Bearer {minted.json()['access_token']}", "Accept": "application/json"},
            params={"minorversion": "75"},
            timeout=ADMIN_TIMEOUT_SECONDS,
        )

    def query(self, entity: str, where: str = "") -> list[JSONObject]:
        """Every row of ``entity`` (optionally filtered), paged."""
        rows: list[JSONObject] = []
        while True:
            statement = f"SELECT * FROM {entity} {where} STARTPOSITION {len(rows) + 1} MAXRESULTS {PAGE_SIZE}"
            response = self.client.get("/query", params={"query": statement})
            response.raise_for_status()
            page: list[JSONObject] = response.json()["QueryResponse"].get(entity, [])
            rows.extend(page)
            if len(page) < PAGE_SIZE:
                return rows

    def create(self, entity: str, body: JSONObject) -> JSONObject:
        response = self.client.post(f"/{entity.lower()}", json=body)
        response.raise_for_status()
        created: JSONObject = response.json()[entity]
        return created

    def read(self, entity: str, entity_id: str) -> JSONObject:
        response = self.client.get(f"/{entity.lower()}/{entity_id}")
        response.raise_for_status()
        found: JSONObject = response.json()[entity]
        return found

    def bank_account_id(self) -> str:
        return str(self.query("Account", "WHERE AccountType = 'Bank'")[0]["Id"])

    def create_open_bills(self, amounts: list[Decimal]) -> list[JSONObject]:
        """One new open Bill per amount, spread over the realm's vendors, charged to an expense account."""
        vendors = [vendor["Id"] for vendor in self.query("Vendor") if vendor.get("Active", True)]
        expense = self.query("Account", "WHERE AccountType = 'Expense'")[0]["Id"]
        bills = []
        for index, amount in enumerate(amounts):
            line = {
                "Amount": str(amount),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}},
            }
            body = {"VendorRef": {"value": vendors[index % len(vendors)]}, "Line": [line]}
            bills.append(self.create("Bill", body))
        return bills

    def our_bill_payments(self) -> list[JSONObject]:
        """The realm's BillPayments that carry an action marker in their PrivateNote."""
        return [bp for bp in self.query("BillPayment") if MARKER_PREFIX in str(bp.get("PrivateNote", ""))]

    def close(self) -> None:
        self.client.close()


@dataclass
class Sandbox:
    """A standalone sandbox served on loopback, driven through its ``/_sandbox`` admin paths."""

    base_url: str
    app: Starlette
    admin: httpx.Client

    def create_realm(self, *, scenario: str = "healthy", seed: int = 42, size: int | None = None) -> str:
        """A fresh company (its own realm id, so nothing else shares its limits or counters)."""
        response = self.admin.post("/_sandbox/realms", json={"scenario": scenario, "seed": seed, "size": size})
        response.raise_for_status()
        realm_id: str = response.json()["realm_id"]
        return realm_id

    def configure_faults(self, **settings: Any) -> JSONObject:
        response = self.admin.post("/_sandbox/faults", json=settings)
        response.raise_for_status()
        faults: JSONObject = response.json()
        return faults

    def calm(self) -> None:
        self.configure_faults(**CALM)

    def stats(self, realm_id: str) -> JSONObject:
        response = self.admin.get("/_sandbox/stats", params={"realm_id": realm_id})
        response.raise_for_status()
        stats: JSONObject = response.json()
        return stats

    def reset_stats(self, realm_id: str) -> None:
        self.admin.post("/_sandbox/stats/reset", json={"realm_id": realm_id}).raise_for_status()

    def configure_limits(self, **settings: Any) -> JSONObject:
        response = self.admin.post("/_sandbox/limits", json=settings)
        response.raise_for_status()
        limits: JSONObject = response.json()
        return limits

    def realm_api(self, realm_id: str) -> RealmApi:
        return RealmApi(self.base_url, realm_id)


@contextlib.contextmanager
def sandbox_server(config: SandboxConfig) -> Iterator[Sandbox]:
    app = create_sandbox_app(config)
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=ADMIN_TIMEOUT_SECONDS) as admin:
        yield Sandbox(base_url, app, admin)


# ----------------------------------------------------------------------------------------------------- customer
@dataclass
class Customer:
    """A signed-up owner holding an API token, with one business connected to a sandbox realm."""

    app_url: str
    email: str
    business_id: str
    realm_id: str
    token: str
    api: httpx.Client

    def pay_path(self, bill_id: str) -> str:
        return f"/api/businesses/{self.business_id}/bills/{bill_id}/pay"

    @staticmethod
    def pay_body(amount: Decimal, account_id: str) -> JSONObject:
        return {"amount": str(amount), "pay_from_account_id": account_id}

    def pay(self, bill_id: str, amount: Decimal, account_id: str, *, key: str | None = None) -> httpx.Response:
        """A payment; without ``key`` a new intent, with a key of its own (the API requires one)."""
        headers = {"Idempotency-Key": key or f"pay-{uuid.uuid4().hex}"}
        return self.api.post(self.pay_path(bill_id), json=self.pay_body(amount, account_id), headers=headers)

    def action(self, action_id: str) -> JSONObject:
        response = self.api.get(f"/api/businesses/{self.business_id}/actions/{action_id}")
        response.raise_for_status()
        action: JSONObject = response.json()
        return action

    def close(self) -> None:
        self.api.close()


def _expect(response: httpx.Response, status: int) -> JSONObject:
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text[:500]}"
    body: JSONObject = response.json() if response.content else {}
    return body


def connect_customer(app_url: str, realm_id: str, *, timeout: float = 30.0) -> Customer:
    """Sign up, create a business, connect it to ``realm_id`` through the real OAuth routes, mint an API token."""
    email = f"acceptance-{uuid.uuid4().hex[:12]}@example.com"
    signup = httpx.post(f"{app_url}/api/auth/signup", json={"email": email, "password": TEST_PASSWORD}, timeout=timeout)
    _expect(signup, 201)
    cookie = {"Cookie": f"{SESSION_COOKIE}={session_cookie_of(signup)}"}
    with httpx.Client(base_url=app_url, headers=cookie, timeout=timeout) as browser:
        business = _expect(browser.post("/api/businesses", json={"name": "Acme Supply", "timezone": "UTC"}), 201)
        business_id: str = business["id"]
        start = browser.get(f"/api/businesses/{business_id}/qbo/connect", headers={"Accept": "application/json"})
        # QBO's company picker: the sandbox consents at once for the realm named here.
        consent = httpx.get(_expect(start, 200)["authorize_url"] + f"&realmId={realm_id}", timeout=timeout)
        assert consent.status_code == 302, consent.text
        back = urlsplit(consent.headers["location"])
        _expect(browser.get(f"{back.path}?{back.query}", headers={"Accept": "application/json"}), 200)
        token: str = _expect(browser.post("/api/auth/tokens", json={"name": "acceptance"}), 201)["token"]
    api = httpx.Client(base_url=app_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    return Customer(app_url, email, business_id, realm_id, token, api)


# ------------------------------------------------------------------------------------------------ all together
@dataclass(frozen=True)
class Served:
    """A standalone sandbox, one of its realms, the app pointed at it (in this process) and a connected customer."""

    sandbox: Sandbox
    realm: RealmApi
    customer: Customer
    app: FastAPI


@contextlib.contextmanager
def served_app(
    base: Settings, config: SandboxConfig, *, seed: int, size: int | None = None, **overrides: Any
) -> Iterator[Served]:
    """Serve a sandbox from ``config`` with a fresh healthy realm (``seed``, ``size``), the app from ``base`` with
    ``overrides``, and a customer connected to that realm; all closed at the end."""
    with sandbox_server(config) as sandbox:
        realm = sandbox.realm_api(sandbox.create_realm(scenario="healthy", seed=seed, size=size))
        app = create_app(app_settings(base, sandbox.base_url, **overrides))
        with serve(app) as app_url:
            customer = connect_customer(app_url, realm.realm_id)
            try:
                yield Served(sandbox, realm, customer, app)
            finally:
                customer.close()
                realm.close()


def worker_env(
    database_url: str, served: Served, redis_url: str, **settings: str | float | int | bool | None
) -> dict[str, str]:
    """The settings of a worker or scheduler process beside ``served``: the app's database, Redis and secret key (it
    decrypts the QBO tokens), the served sandbox as QuickBooks; ``settings`` on top."""
    sandbox_url = served.sandbox.base_url
    return app_settings_env(
        port=free_port(),
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        secret_key=TEST_SECRET_KEY,
        qbo_api_base_url=sandbox_url,
        qbo_discovery_url=f"{sandbox_url}/.well-known/openid_configuration",
        qbo_redirect_uri=REDIRECT_URI,
        log_level="INFO",
        **settings,
    )


def oodaloo_process(name: str, env: dict[str, str], tmp_path: Path) -> AppProcess:
    """``oodaloo <name>`` (a worker, a scheduler) with ``env``, logging to a file of its own under ``tmp_path``."""
    return AppProcess(oodaloo_command(name), env=env, log_path=tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.log")
