"""What the action and plan tests share: the app served beside a standalone sandbox (jobs in-process, quick
reconciliation), a business of its own connected to a sandbox company whose mirror is synced, and the helpers that
call its actions over real HTTP and read QuickBooks' side of them."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from oodaloo.domains.qbo.mirror_models import SyncOutcome
from oodaloo.infra.jobs.actions import MARKER_PREFIX
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.support.qbo import Browser, Browsers, SandboxCompany, Served, connect, new_business, served_beside_a_sandbox

REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
ZONE = ZoneInfo("America/New_York")
SETTLE_SECONDS = 30.0
POLL_SECONDS = 0.1
JSONObject = dict[str, Any]


def serve_for_actions(settings: Settings, **overrides: Any) -> Any:
    """The app beside a sandbox, running its jobs in-process (a sweep every 0.3 s), reconciling quickly."""
    return served_beside_a_sandbox(
        settings,
        redirect_uri=REDIRECT_URI,
        redis_url=None,
        reconcile_backoff_seconds=0.2,
        reconcile_stale_seconds=5.0,
        sweep_interval_seconds=0.3,
        **overrides,
    )


def new_key(label: str = "act") -> str:
    return f"{label}-{uuid.uuid4().hex}"


def money(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass
class Books:
    """A business connected to a sandbox company of its own, its owner's browser, and its synced mirror."""

    owner: Browser
    business_id: str
    company: SandboxCompany
    mirror: Harness

    @property
    def base(self) -> str:
        return f"/api/businesses/{self.business_id}"

    def post(
        self,
        path: str,
        body: JSONObject | None = None,
        *,
        key: str | None = None,
        as_: Browser | None = None,
        without_key: bool = False,
    ) -> httpx.Response:
        headers = {} if without_key else {"Idempotency-Key": key or new_key()}
        return (as_ or self.owner).post(self.base + path, json=body, headers=headers)

    def get(self, path: str, as_: Browser | None = None, **params: Any) -> httpx.Response:
        return (as_ or self.owner).get(self.base + path, params=params)

    def action(self, action_id: str) -> JSONObject:
        response = self.get(f"/actions/{action_id}")
        assert response.status_code == 200, response.text
        body: JSONObject = response.json()
        return body

    def settled(self, action_id: str) -> JSONObject:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            action = self.action(action_id)
            if action["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                return action
            time.sleep(POLL_SECONDS)

    def sync(self) -> None:
        report = self.mirror.run(lambda sync: sync.incremental(self.mirror.business_id))
        assert report.outcome is SyncOutcome.SUCCEEDED

    # ------------------------------------------------------------------------------------------ QuickBooks' side
    def bank_id(self) -> str:
        return self.company.account_id("Bank")

    def card_id(self) -> str:
        return self.company.account_id("Credit Card")

    def open_invoices(self) -> list[JSONObject]:
        """Open invoices with a billing email, largest balance first."""
        rows = self.company.query("SELECT * FROM Invoice WHERE Balance > '0' MAXRESULTS 1000")
        emailed = [row for row in rows if (row.get("BillEmail") or {}).get("Address")]
        return sorted(emailed, key=lambda row: -money(row["Balance"]))

    def invoices_of_distinct_customers(self, count: int) -> list[JSONObject]:
        chosen: dict[str, JSONObject] = {}
        for invoice in self.open_invoices():
            chosen.setdefault(invoice["CustomerRef"]["value"], invoice)
        assert len(chosen) >= count, "the sandbox company has too few customers with open invoices"
        return list(chosen.values())[:count]

    def invoice_balance(self, invoice_id: str) -> Decimal:
        return money(self.company.read("Invoice", invoice_id)["Balance"])

    def our_writes(self, entity: str) -> list[JSONObject]:
        """Objects of ``entity`` written by our actions (their PrivateNote carries an action marker)."""
        rows = self.company.query(f"SELECT * FROM {entity} MAXRESULTS 1000")
        return [row for row in rows if MARKER_PREFIX in str(row.get("PrivateNote", ""))]

    def stats(self) -> JSONObject:
        response = httpx.get(f"{self.company.sandbox}/_sandbox/stats", params={"realm_id": self.company.realm_id})
        response.raise_for_status()
        stats: JSONObject = response.json()
        return stats

    def requests(self) -> Counter[str]:
        return Counter({endpoint: sum(by.values()) for endpoint, by in self.stats()["requests"].items()})


def connected_books(served: Served, browsers: Browsers, *, timezone: str = ZONE.key) -> Books:
    """A new owner and business connected to a new sandbox company, its mirror fully synced."""
    owner = browsers.sign_up("actions")
    business_id = new_business(owner, timezone)
    company = SandboxCompany.create(served.sandbox)
    connect(owner, business_id, REDIRECT_URI, company.realm_id)
    mirror = Harness.of(served.settings.database_url, Realm(served.sandbox, company.realm_id), business_id)
    mirror.full_sync()
    return Books(owner, business_id, company, mirror)


def today() -> date:
    """The date now where the businesses of ``connected_books`` are."""
    return datetime.now(ZONE).date()
