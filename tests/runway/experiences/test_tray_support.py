"""What the prep tray's tests share (no tests here): a business of its own connected through the real OAuth flow to an
empty sandbox company, made messy through the sandbox's public /v3 API, synced over real HTTP; its tray read as JSON
and as a page; the drift check run as a worker runs it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from typing import Any

import httpx

from oodaloo.domains.core.drift import DriftReport
from oodaloo.domains.qbo.mirror_models import SyncOutcome
from tests.domains.core.drift_support import Worker, with_worker
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.domains.qbo.test_tray_data import Messy
from tests.runway.action_support import REDIRECT_URI
from tests.support.clock import Instant
from tests.support.qbo import Browser, Browsers, Served, connect, new_business

# A Wednesday morning in New York: the business's date does not turn while a test runs.
MORNING = Instant("America/New_York", time(10, 0))
JSONObject = dict[str, Any]


@dataclass
class TrayBooks:
    """A business connected to an empty sandbox company of its own (``mess`` arranges its books), mirror synced."""

    served: Served
    owner: Browser
    business_id: str
    mess: Messy
    mirror: Harness

    @classmethod
    def create(cls, served: Served, browsers: Browsers) -> TrayBooks:
        owner = browsers.sign_up("tray")
        business_id = new_business(owner, MORNING.zone)
        mess = Messy.empty(served.sandbox, MORNING.day)
        realm = Realm(served.sandbox, mess.company.realm_id)
        connect(owner, business_id, REDIRECT_URI, realm.realm_id)
        mirror = Harness.of(served.settings.database_url, realm, business_id)
        mirror.full_sync()
        return cls(served, owner, business_id, mess, mirror)

    def sync(self) -> None:
        report = self.mirror.run(lambda sync: sync.incremental(self.mirror.business_id))
        assert report.outcome is SyncOutcome.SUCCEEDED

    def drift_check(self) -> DriftReport:
        """The drift check a worker runs after a sync."""

        async def go(worker: Worker) -> DriftReport:
            return await worker.drift.check(uuid.UUID(self.business_id))

        return with_worker(self.served.settings, go)

    @property
    def api(self) -> str:
        return f"/api/businesses/{self.business_id}/tray"

    @property
    def page(self) -> str:
        return f"/businesses/{self.business_id}/tray"

    def tray(self, as_: Browser | None = None) -> JSONObject:
        response = (as_ or self.owner).get(self.api)
        assert response.status_code == 200, response.text
        body: JSONObject = response.json()
        return body

    def html(self, *, htmx: bool = False, as_: Browser | None = None) -> httpx.Response:
        headers = {"Accept": "text/html", **({"HX-Request": "true"} if htmx else {})}
        return (as_ or self.owner).get(self.page, headers=headers)


def component(tray: JSONObject, key: str) -> JSONObject:
    found: JSONObject = next(part for part in tray["hygiene"]["components"] if part["key"] == key)
    return found


def points_lost(tray: JSONObject) -> dict[str, int]:
    return {part["key"]: part["points_lost"] for part in tray["hygiene"]["components"] if part["points_lost"]}


def items_of(tray: JSONObject, kind: str) -> list[JSONObject]:
    return [item for item in tray["items"] if item["kind"] == kind]


def money(value: Any) -> Decimal:
    return Decimal(str(value))
