"""A simulated month of one business under the mirror's freshness policy: the QBO calls its syncs make, and how long a
change made in QBO takes to reach the mirror — with the real components, on a simulated clock.

What runs for real: a sandbox realm served over HTTP (its store, its signed webhook sender), a business connected to it
through the OAuth flow, the app's QBO runtime as ``wiring.build_runtime`` builds it (SmartSync, ConnectionService,
MirrorSync, QBOBulkScheduledService, MirrorSyncJobs with its sweep registered), the in-process job queue
(``JobQueue.start_in_process``: taskiq's in-memory broker, per-realm serialization, coalescing, the webhook sync's
delay), and ``POST /webhooks/qbo`` (the real route and WebhookService) served in this process, where the sandbox
delivers its signed notifications. Only the clock is simulated: time-machine moves the wall clock of the whole process
(sandbox included, so QBO's stamps and CDC cursors follow it) and lets it tick in real time between moves, so the
waits the components make in real time (the webhook sync's delay, HTTP) also pass on the simulated clock.

Assumptions (each a named constant below):
- The month: 30 days from Monday 1 February 2027, 00:00 in the company's zone (America/New_York; no DST switch).
  Measured from a mirror already fully synced; the first full sync (a one-off at connection) is not counted.
- The firm: a services firm making CHANGES_PER_WEEK changes in QBO, on weekdays between 09:00 and 17:00 local, at
  uniformly random minutes: new bills, new invoices, customer payments of open invoices and bill payments of open bills
  (CHANGE_MIX). Each is one v3 write in the sandbox, which announces it by webhook.
- Lost webhooks: LOST_WEBHOOK_FRACTION of the changes (at least one, so the safety net is exercised) are never
  delivered — the sandbox has no webhook registered while they are written, as when Intuit drops a notification.
  Every other notification reaches the route near real time (the sandbox's 0.2 s aggregation window).
- The owner: OWNER_SESSIONS_PER_WEEK sessions on random weekdays between 08:00 and 18:00 local, each a page view every
  PAGE_VIEW_EVERY for SESSION_LENGTH (``record_user_activity``, which stamps the business active). Pages read the
  mirror; opening one makes no QBO call.
- The sweep runs every ``Settings.sweep_interval_seconds`` (15 s) of simulated time. A tick is skipped only when the
  sweep would find nothing: the freshness policy (asked through SmartSync, as the sweep asks it) says the business is
  not due and the inbox holds no unprocessed event (checked after every sync); the sweep's third input, an unfinished
  full sync, cannot occur after the first one. Every other tick runs every registered kind's real sweep hook, and the
  syncs it asks for run on the queue.

Figures (``var/bench/sync.json``, merged into what the sync benchmark wrote there):
- ``calls_per_business_month``: requests the sandbox answered to the mirror's syncs during the month (its
  ``/_sandbox/stats`` for the realm, the firm's own writes excluded; the syncs' own count, from ``sync_runs``, must
  agree). Target ≤ 3,000.
- ``max_staleness_min``: over the changes whose webhook was delivered, the longest time from the write in QBO to the
  moment the mirror held that version (simulated clock, checked as each sync ends). Target ≤ 15.
- Beside them: the worst staleness of a change whose webhook was lost (the safety net's, bounded by the policy's 4 h,
  or 30 min while the owner is active, unless another change's webhook came sooner), the changes and lost webhooks,
  the syncs by trigger, the p50 staleness, and the real seconds the month took.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import time_machine
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from taskiq import InMemoryBroker

from oodaloo.domains.core.models import User
from oodaloo.domains.core.repository import UserRepository
from oodaloo.domains.core.schemas import BusinessIn
from oodaloo.domains.core.service import BusinessService
from oodaloo.domains.qbo.mirror_models import MIRRORED, SyncRun
from oodaloo.domains.qbo.models import QBOConnection
from oodaloo.domains.qbo.sync_jobs import MIRROR_SCOPE
from oodaloo.domains.qbo.webhooks_models import QBOWebhookEvent
from oodaloo.infra.auth import passwords
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import JobQueue, SyncStrategy
from oodaloo.infra.logging import configure_logging
from oodaloo.infra.web.errors import install_error_handlers
from oodaloo.migrations import upgrade_to_head
from oodaloo.runway.routes import webhooks
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import SandboxConfig
from oodaloo.settings import Settings
from oodaloo.wiring import QBORuntime, build_runtime, connect_demo_when_ready
from tests.support.servers import serve

from ._common import BENCH_DIR

ZONE = ZoneInfo("America/New_York")
MONTH_START = datetime(2027, 2, 1, tzinfo=ZONE)  # a Monday; US DST begins 14 March 2027
MONTH_DAYS = 30
SEED = 20270201
CHANGES_PER_WEEK = 40
OFFICE_HOURS = (9, 17)
CHANGE_MIX = {"bill": 30, "invoice": 30, "payment": 20, "bill_payment": 20}
LOST_WEBHOOK_FRACTION = 0.01
OWNER_SESSIONS_PER_WEEK = 3
OWNER_HOURS = (8, 18)
SESSION_LENGTH = timedelta(minutes=20)
PAGE_VIEW_EVERY = timedelta(minutes=10)
# The endpoints the mirror reads (CDC, its fallback pages, the daily singletons); the firm's writes go elsewhere.
MIRROR_ENDPOINTS = ("cdc", "query", "companyinfo", "preferences")
REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"  # never contacted: the OAuth flow is completed in-process
# Real-time bounds on waiting for the sandbox's delivery and the jobs it starts (never reached in a healthy run).
DELIVERY_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.02
SETTLE_ROUNDS = 5
HTTP_TIMEOUT_SECONDS = 30.0
TARGET_CALLS = 3_000
TARGET_STALENESS_MIN = 15.0


# ------------------------------------------------------------------------------------------------ the schedule
@dataclass(frozen=True, order=True)
class Event:
    at: datetime
    kind: str  # a CHANGE_MIX key, or "page_view"
    lost_webhook: bool = False


def schedule(rng: random.Random) -> list[Event]:
    """The month's changes and page views, in time order."""
    end = MONTH_START + timedelta(days=MONTH_DAYS)
    weekdays = [day for day in _days() if day.weekday() < 5]
    weeks = MONTH_DAYS / 7
    kinds, weights = list(CHANGE_MIX), list(CHANGE_MIX.values())
    changes = [
        Event(_random_time(rng, rng.choice(weekdays), OFFICE_HOURS), rng.choices(kinds, weights)[0])
        for _ in range(round(CHANGES_PER_WEEK * weeks))
    ]
    lost = set(rng.sample(range(len(changes)), max(1, round(len(changes) * LOST_WEBHOOK_FRACTION))))
    changes = [Event(c.at, c.kind, index in lost) for index, c in enumerate(changes)]
    views: list[Event] = []
    for _ in range(round(OWNER_SESSIONS_PER_WEEK * weeks)):
        started = _random_time(rng, rng.choice(weekdays), OWNER_HOURS)
        views += [
            Event(started + PAGE_VIEW_EVERY * n, "page_view") for n in range(SESSION_LENGTH // PAGE_VIEW_EVERY + 1)
        ]
    return sorted(event for event in changes + views if event.at < end)


def _days() -> list[date]:
    return [(MONTH_START + timedelta(days=n)).date() for n in range(MONTH_DAYS)]


def _random_time(rng: random.Random, day: date, hours: tuple[int, int]) -> datetime:
    start = datetime(day.year, day.month, day.day, hours[0], tzinfo=ZONE)
    return start + timedelta(seconds=rng.randrange((hours[1] - hours[0]) * 3600))


# ------------------------------------------------------------------------------------------------ the firm in QBO
@dataclass
class Change:
    """One write the firm made in QBO, and when the mirror first held that version."""

    entity: str
    qbo_id: str
    sync_token: str
    made_at: datetime
    lost_webhook: bool
    arrived_at: datetime | None = None

    @property
    def staleness_min(self) -> float:
        assert self.arrived_at is not None
        return (self.arrived_at - self.made_at).total_seconds() / 60


@dataclass
class Firm:
    """The firm's bookkeeper writing to the realm through the v3 API (a token minted per write: the simulated clock
    outlives any one token)."""

    sandbox: str
    realm_id: str
    rng: random.Random
    refs: dict[str, list[str]] = field(default_factory=dict)
    open_bills: list[dict[str, Any]] = field(default_factory=list)
    open_invoices: list[dict[str, Any]] = field(default_factory=list)

    async def _api(self) -> httpx.AsyncClient:
        async with httpx.AsyncClient(base_url=self.sandbox, timeout=HTTP_TIMEOUT_SECONDS) as admin:
            minted = (await admin.post("/_sandbox/tokens", json={"realm_id": self.realm_id})).raise_for_status()
        return httpx.AsyncClient(
            base_url=f"{self.sandbox}/v3/company/{self.realm_id}",
            headers={"Authorization": f"Bearer {minted.json()['access_token']}", "Accept": "application/json"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    async def learn_refs(self) -> None:
        """Names and accounts to write with (read before the month; not counted)."""
        statements = {
            "vendor": "SELECT * FROM Vendor WHERE Active = true MAXRESULTS 50",
            "customer": "SELECT * FROM Customer WHERE Active = true MAXRESULTS 50",
            "expense": "SELECT * FROM Account WHERE AccountType = 'Expense' MAXRESULTS 10",
            "bank": "SELECT * FROM Account WHERE AccountType = 'Bank' MAXRESULTS 1",
            "item": "SELECT * FROM Item WHERE Type = 'Service' MAXRESULTS 10",
        }
        async with await self._api() as api:
            for ref, statement in statements.items():
                page = (await api.get("/query", params={"query": statement})).raise_for_status().json()["QueryResponse"]
                rows = next(value for value in page.values() if isinstance(value, list))
                self.refs[ref] = [str(row["Id"]) for row in rows]

    async def make(self, kind: str) -> tuple[str, dict[str, Any]]:
        """One change of ``kind`` (a payment falls back to a new document when nothing of ours is open)."""
        if kind == "payment" and self.open_invoices:
            invoice = self.open_invoices.pop(0)
            return "Payment", await self._write("Payment", _payment(invoice))
        if kind == "bill_payment" and self.open_bills:
            bill = self.open_bills.pop(0)
            return "BillPayment", await self._write("BillPayment", _bill_payment(bill, self.refs["bank"][0]))
        amount = Decimal(self.rng.randrange(150_00, 4_500_00)) / 100
        if kind in ("invoice", "payment"):
            invoice = await self._write("Invoice", self._invoice(amount))
            self.open_invoices.append(invoice)
            return "Invoice", invoice
        bill = await self._write("Bill", self._bill(amount))
        self.open_bills.append(bill)
        return "Bill", bill

    async def _write(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        async with await self._api() as api:
            response = await api.post(f"/{entity.lower()}", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"the sandbox refused a {entity}: {response.text}")
        written: dict[str, Any] = response.json()[entity]
        return written

    def _bill(self, amount: Decimal) -> dict[str, Any]:
        return {
            "VendorRef": {"value": self.rng.choice(self.refs["vendor"])},
            "Line": [
                {
                    "Amount": str(amount),
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": self.rng.choice(self.refs["expense"])}},
                }
            ],
        }

    def _invoice(self, amount: Decimal) -> dict[str, Any]:
        return {
            "CustomerRef": {"value": self.rng.choice(self.refs["customer"])},
            "Line": [
                {
                    "Amount": str(amount),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": self.rng.choice(self.refs["item"])}},
                }
            ],
        }


def _payment(invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        "CustomerRef": invoice["CustomerRef"],
        "TotalAmt": invoice["TotalAmt"],
        "Line": [{"Amount": invoice["TotalAmt"], "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }


def _bill_payment(bill: dict[str, Any], bank: str) -> dict[str, Any]:
    return {
        "VendorRef": bill["VendorRef"],
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": bank}},
        "TotalAmt": bill["TotalAmt"],
        "Line": [{"Amount": bill["TotalAmt"], "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
    }


# ------------------------------------------------------------------------------------------------ our side
@contextlib.asynccontextmanager
async def webhook_route(settings: Settings, runtime: QBORuntime, database: Database) -> AsyncIterator[str]:
    """``POST /webhooks/qbo`` (the app's route, error handlers and state) served on this event loop; yields its URL."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(webhooks.router)
    app.state.settings, app.state.database, app.state.sync_requester = settings, database, runtime.mirror_jobs
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level=None, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            raise RuntimeError("the webhook route did not start")
        await asyncio.sleep(POLL_SECONDS)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/webhooks/qbo"
    finally:
        server.should_exit = True
        await serving


async def connected_business(runtime: QBORuntime, database: Database, settings: Settings) -> uuid.UUID:
    """A user and their business, connected to the sandbox's realm through the OAuth code flow."""
    async with unit_of_work(database.sessionmaker) as session:
        user = await UserRepository(session).add(
            User(
                email="owner@freshness.bench",
                password_hash=passwords.hash_password(uuid.uuid4().hex),
                display_name="Owner",
            )
        )
        business = await BusinessService(session).create(user, BusinessIn(name="Freshness Co", timezone=ZONE.key))
        business_id = business.id
    connected = await connect_demo_when_ready(
        runtime, database.sessionmaker, user=user, business_id=business_id, discovery_url=settings.qbo_discovery_url
    )
    if not connected:
        raise RuntimeError("the business did not connect to the sandbox")
    return business_id


@dataclass
class Month:
    """The simulation's state: the runtime under test, the sandbox's admin side, and what was measured."""

    runtime: QBORuntime
    queue: JobQueue
    database: Database
    admin: httpx.AsyncClient
    webhook_url: str
    firm: Firm
    business_id: uuid.UUID
    changes: list[Change] = field(default_factory=list)
    syncs_by_trigger: dict[str, int] = field(default_factory=lambda: {"webhook": 0, "sweep": 0})
    inbox_waiting: bool = False
    sweeps_run: int = 0

    async def settle(self) -> None:
        broker = self.queue.broker
        assert isinstance(broker, InMemoryBroker)
        for _ in range(SETTLE_ROUNDS):
            await broker.wait_all()
        await self._note_arrivals()
        async with unit_of_work(self.database.sessionmaker) as session:
            unprocessed = select(func.count()).where(QBOWebhookEvent.processed_at.is_(None))
            self.inbox_waiting = bool(await session.scalar(unprocessed.select_from(QBOWebhookEvent)))

    async def _note_arrivals(self) -> None:
        now = datetime.now(UTC)
        async with unit_of_work(self.database.sessionmaker) as session:
            for change in self.changes:
                if change.arrived_at is not None:
                    continue
                model = MIRRORED[change.entity]
                token = await session.scalar(
                    select(model.sync_token).where(model.business_id == self.business_id, model.qbo_id == change.qbo_id)
                )
                if token is not None and int(token) >= int(change.sync_token):
                    change.arrived_at = now

    async def delivered(self) -> int:
        stats = (await self.admin.get("/_sandbox/stats", params={"realm_id": self.firm.realm_id})).raise_for_status()
        return int(stats.json()["webhooks_sent"])

    async def change(self, event: Event) -> None:
        before = await self.delivered()
        if event.lost_webhook:
            (
                await self.admin.request("DELETE", "/_sandbox/webhooks", params={"url": self.webhook_url})
            ).raise_for_status()
        entity, written = await self.firm.make(event.kind)
        self.changes.append(
            Change(entity, str(written["Id"]), str(written["SyncToken"]), datetime.now(UTC), event.lost_webhook)
        )
        if event.lost_webhook:
            (await self.admin.post("/_sandbox/webhooks", json={"url": self.webhook_url})).raise_for_status()
            return
        deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
        while await self.delivered() == before:
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not deliver the change's webhook")
            await asyncio.sleep(POLL_SECONDS)
        runs = await self._runs()
        await self.settle()
        self.syncs_by_trigger["webhook"] += await self._runs() - runs

    async def page_view(self) -> None:
        async with unit_of_work(self.database.sessionmaker) as session:
            await self.runtime.sync.record_user_activity(
                session, business_id=self.business_id, user_id=None, kind="page_view", subject="console"
            )

    async def tick(self) -> None:
        """The sweep, when it has anything to find (see the module docstring)."""
        due = await self.runtime.sync.should_sync(self.business_id, MIRROR_SCOPE, SyncStrategy.SCHEDULED)
        if not (due or self.inbox_waiting):
            return
        runs = await self._runs()
        for kind in self.runtime.job_kinds.with_sweeps():
            assert kind.sweep is not None
            await kind.sweep(self.queue)
        self.sweeps_run += 1
        await self.settle()
        self.syncs_by_trigger["sweep"] += await self._runs() - runs

    async def _runs(self) -> int:
        async with unit_of_work(self.database.sessionmaker) as session:
            count = await session.scalar(select(func.count()).select_from(SyncRun))
        return int(count or 0)

    async def sync_calls(self, since: datetime) -> int:
        async with unit_of_work(self.database.sessionmaker) as session:
            total = await session.scalar(select(func.sum(SyncRun.calls)).where(SyncRun.started_at >= since))
        return int(total or 0)

    async def sandbox_calls(self) -> dict[str, int]:
        stats = (await self.admin.get("/_sandbox/stats", params={"realm_id": self.firm.realm_id})).json()
        return {endpoint: sum(by_status.values()) for endpoint, by_status in stats["requests"].items()}


async def run_month(month: Month, clock: time_machine.Traveller, events: list[Event], tick: timedelta) -> None:
    """Every sweep tick of the month in order, each event at its own instant between them."""
    end = MONTH_START + timedelta(days=MONTH_DAYS)
    pending = list(events)
    at = MONTH_START
    while at < end:
        while pending and pending[0].at <= at:
            event = pending.pop(0)
            _move_to(clock, event.at)
            await (month.page_view() if event.kind == "page_view" else month.change(event))
        _move_to(clock, at)
        await month.tick()
        at += tick


def _move_to(clock: time_machine.Traveller, at: datetime) -> None:
    """Forward only: real time spent waiting (a sync's delay) has already moved the ticking clock on."""
    if at > datetime.now(UTC):
        clock.move_to(at.astimezone(UTC))


async def simulate(sandbox: str, database_url: str, clock: time_machine.Traveller) -> dict[str, float]:
    settings = Settings(
        environment="development",
        database_url=database_url,
        redis_url=None,
        auto_migrate=False,
        embedded_sandbox=False,
        qbo_api_base_url=sandbox,
        qbo_discovery_url=f"{sandbox}/.well-known/openid_configuration",
        qbo_redirect_uri=REDIRECT_URI,
        mirror_sweep=True,
    )
    rng = random.Random(SEED)
    events = schedule(rng)
    database = Database(database_url)
    runtime = build_runtime(settings, database.sessionmaker)
    # The queue's own sweep loop (real seconds) never fires: the simulation sweeps on the simulated clock.
    queue = await JobQueue.start_in_process(runtime, sweep_interval_seconds=MONTH_DAYS * 86_400.0)
    try:
        async with (
            webhook_route(settings, runtime, database) as url,
            httpx.AsyncClient(base_url=sandbox, timeout=HTTP_TIMEOUT_SECONDS) as admin,
        ):
            business_id = await connected_business(runtime, database, settings)
            realm_id = await _realm_of(database, business_id)
            firm = Firm(sandbox, realm_id, rng)
            await firm.learn_refs()
            month = Month(runtime, queue, database, admin, url, firm, business_id)
            await runtime.mirror_jobs.request(business_id)  # the first, full sync: before the month, not counted
            await month.settle()
            (await admin.post("/_sandbox/webhooks", json={"url": url})).raise_for_status()
            _move_to(clock, MONTH_START)
            (await admin.post("/_sandbox/stats/reset", json={"realm_id": realm_id})).raise_for_status()
            started = time.perf_counter()
            await run_month(month, clock, events, timedelta(seconds=settings.sweep_interval_seconds))
            real_seconds = time.perf_counter() - started
            by_endpoint = await month.sandbox_calls()
            counted_by_syncs = await month.sync_calls(MONTH_START)
    finally:
        await queue.stop()
        await runtime.aclose()
        await database.dispose()
    return figures(month, by_endpoint, counted_by_syncs, real_seconds)


async def _realm_of(database: Database, business_id: uuid.UUID) -> str:
    async with unit_of_work(database.sessionmaker) as session:
        realm_id = await session.scalar(select(QBOConnection.realm_id).where(QBOConnection.business_id == business_id))
    if realm_id is None:
        raise RuntimeError("the business has no QBO connection")
    return str(realm_id)


def figures(month: Month, by_endpoint: dict[str, int], counted_by_syncs: int, real_seconds: float) -> dict[str, float]:
    calls = sum(by_endpoint.get(endpoint, 0) for endpoint in MIRROR_ENDPOINTS)
    if calls != counted_by_syncs:
        raise RuntimeError(f"the sandbox answered {calls} mirror calls, the syncs counted {counted_by_syncs}")
    missing = [change for change in month.changes if change.arrived_at is None]
    if missing:
        raise RuntimeError(f"{len(missing)} changes never reached the mirror: {missing[:3]}")
    flowing = [change.staleness_min for change in month.changes if not change.lost_webhook]
    lost = [change.staleness_min for change in month.changes if change.lost_webhook]
    print(
        "sandbox requests by endpoint: " + ", ".join(f"{name} {count}" for name, count in sorted(by_endpoint.items()))
    )
    return {
        "calls_per_business_month": calls,
        "max_staleness_min": max(flowing),
        "calls_per_business_month_over_target": calls / TARGET_CALLS,
        "max_staleness_over_target": max(flowing) / TARGET_STALENESS_MIN,
        "p50_staleness_min": statistics.median(flowing),
        "max_staleness_lost_webhook_min": max(lost),
        "month_changes": len(month.changes),
        "month_lost_webhooks": len(lost),
        "month_syncs_after_webhooks": month.syncs_by_trigger["webhook"],
        "month_syncs_by_sweep": month.syncs_by_trigger["sweep"],
        "month_sweeps_with_work": month.sweeps_run,
        "month_cdc_calls": by_endpoint.get("cdc", 0),
        "month_simulated_in_seconds": real_seconds,
    }


def run() -> dict[str, float]:
    # Retries of the set-up's throttled pages are logged as warnings; only errors matter here.
    configure_logging("ERROR")
    # The whole process travels: the sandbox (a thread of it) stamps QBO's times and CDC cursors on the same clock.
    with time_machine.travel((MONTH_START - timedelta(hours=2)).astimezone(UTC), tick=True) as clock:
        config = SandboxConfig(verifier_token=Settings().qbo_webhook_verifier_token.get_secret_value())
        with serve(create_sandbox_app(config)) as sandbox, tempfile.TemporaryDirectory() as work_dir:
            database_url = f"sqlite+aiosqlite:///{Path(work_dir) / 'freshness.db'}"
            upgrade_to_head(database_url)
            return asyncio.run(simulate(sandbox, database_url, clock))


def write_merged(figures: dict[str, float]) -> Path:
    """Merge into ``var/bench/sync.json``: the sync benchmark writes its own figures there."""
    import json

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / "sync.json"
    current: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    rounded = {key: round(value, 3) for key, value in figures.items()}
    path.write_text(json.dumps(current | rounded, indent=2, sort_keys=True) + "\n")
    width = max(len(key) for key in figures)
    print(f"\nfreshness ({path})")
    for key in figures:
        print(f"  {key:<{width}}  {rounded[key]:>10}")
    return path


def main() -> None:
    write_merged(run())


if __name__ == "__main__":
    main()
