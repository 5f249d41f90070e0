"""SmartSync's cost, measured against the sandbox on loopback, each figure beside a baseline from the same run:
(a) its per-call overhead: the paired difference between the same request sent through a user action's path (the
    app's own QBO runtime: QBO's real limits, the circuit breaker, the token looked up in the database) and sent bare
    through the same transport, the two interleaved;
(b) paying a bill through the API while QBO answers in 150 ms: warm (after listing the open bills once, as the console
    does when it opens) and cold (a freshly built app with empty caches, no listing first), against one bare QBO
    round trip at that latency. The cold payments' business has its mirror synced beforehand (untimed), as a running
    deployment keeps it (a full sync, then webhooks and CDC): the payment is checked against the mirror and is one QBO
    call. The warm payments' business is never synced: they take the path of a business before its first sync (the
    listing read from QBO, the payment checked against the snapshots it kept). The app's background mirror sweep is off,
    so that no sync this bench did not ask for lands in a measured payment."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import httpx

from oodaloo.domains.qbo.mirror_models import SyncOutcome
from oodaloo.domains.qbo.sync import MirrorSync
from oodaloo.infra.db.engine import Database
from oodaloo.infra.http import HttpRequest, HttpTransport
from oodaloo.infra.jobs.rate_limit import QBO_REQUESTS_PER_SECOND, SECOND_SECONDS
from oodaloo.infra.jobs.smart_sync import Priority, QBOCall
from oodaloo.infra.logging import configure_logging
from oodaloo.main import create_app
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import Settings
from oodaloo.wiring import QBORuntime, build_runtime
from tests.acceptance.harness import (
    Customer,
    RealmApi,
    Sandbox,
    app_settings,
    connect_customer,
    sandbox_config,
    sandbox_server,
)
from tests.support.credentials import TEST_SECRET_KEY
from tests.support.servers import serve

from ._common import median, percentile, write_results

OVERHEAD_CALLS = 400
WARMUP_CALLS = 20
# The overhead calls are spread over this many connected businesses (one realm each) and paced, untimed, to at most
# PACED_CALLS_PER_WINDOW per realm in each of the limiter's per-second windows: the limiter is on with QBO's limits,
# but no measured call waits for a window (a user action's usual case; waiting is the limiter's job, not overhead).
OVERHEAD_REALMS = 4
PACED_CALLS_PER_WINDOW = QBO_REQUESTS_PER_SECOND - 2
PACING_MARGIN_SECONDS = 0.05
PAYMENTS = 60
COLD_PAYMENTS = 20
ROUND_TRIPS = 30
QBO_LATENCY_MS = 150.0
MINOR_VERSION = "75"
HTTP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Business:
    """A connected customer and direct access to its realm."""

    customer: Customer
    realm: RealmApi

    @property
    def business_id(self) -> uuid.UUID:
        return uuid.UUID(self.customer.business_id)

    def companyinfo_path(self) -> str:
        return f"/v3/company/{self.realm.realm_id}/companyinfo/{self.realm.realm_id}"


# ------------------------------------------------------------------------------------------------ (a) overhead
async def _overhead(settings: Settings, businesses: list[Business]) -> dict[str, float]:
    """Paired per-call times (ms): one companyinfo read through SmartSync, one bare, alternating which goes first."""
    database = Database(settings.database_url)
    runtime = build_runtime(settings, database.sessionmaker, database=database)
    tokens = [await runtime.connections.credentials(b.business_id).access_token() for b in businesses]
    smart_starts: list[deque[float]] = [deque(maxlen=PACED_CALLS_PER_WINDOW) for _ in businesses]
    bare_ms: list[float] = []
    smart_ms: list[float] = []
    try:
        for index in range(WARMUP_CALLS + OVERHEAD_CALLS):
            which = index % len(businesses)
            await _pace(smart_starts[which])
            smart_first = index % 2 == 0
            smart_starts[which].append(time.monotonic())
            if smart_first:
                smart = await _through_smartsync(runtime, businesses[which])
                bare = await _bare(runtime.transport, settings.qbo_api_base_url, businesses[which], tokens[which])
            else:
                bare = await _bare(runtime.transport, settings.qbo_api_base_url, businesses[which], tokens[which])
                smart = await _through_smartsync(runtime, businesses[which])
            if index >= WARMUP_CALLS:
                bare_ms.append(bare)
                smart_ms.append(smart)
        slot_wait_ms = _mean_user_slot_wait_ms(runtime)
    finally:
        await runtime.aclose()
    differences = [smart - bare for smart, bare in zip(smart_ms, bare_ms, strict=True)]
    return {
        "bare_p50_ms": median(bare_ms),
        "bare_p95_ms": percentile(bare_ms, 95),
        "smartsync_p50_ms": median(smart_ms),
        "smartsync_p95_ms": percentile(smart_ms, 95),
        "overhead_p50_ms": median(differences),
        "overhead_p95_ms": percentile(differences, 95),
        "overhead_slot_wait_mean_ms": slot_wait_ms,
    }


async def _pace(starts: deque[float]) -> None:
    """Untimed: wait until this realm's per-second window has room, so the limiter admits the next call at once."""
    if len(starts) == starts.maxlen:
        wait = starts[0] + SECOND_SECONDS + PACING_MARGIN_SECONDS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)


async def _through_smartsync(runtime: QBORuntime, business: Business) -> float:
    """A user action's call: fresh credentials as each action gets (the token is looked up in the database)."""
    call = QBOCall(
        realm_id=business.realm.realm_id,
        method="GET",
        path=business.companyinfo_path(),
        params={"minorversion": MINOR_VERSION},
        label="companyinfo.read",
    )
    credentials = runtime.connections.credentials(business.business_id)
    started = time.perf_counter()
    response = await runtime.sync.execute_with_retry(call, credentials=credentials, priority=Priority.USER)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"SmartSync call failed: {response.status}")
    return elapsed


async def _bare(transport: HttpTransport, api_base_url: str, business: Business, token: str) -> float:
    request = HttpRequest(
        method="GET",
        url=api_base_url.rstrip("/") + business.companyinfo_path(),
        params={"minorversion": MINOR_VERSION},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    started = time.perf_counter()
    response = await transport.send(request)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"bare call failed: {response.status}")
    return elapsed


def _mean_user_slot_wait_ms(runtime: QBORuntime) -> float:
    """The user calls' mean wait for a limiter slot: near zero shows the pacing kept the windows out of the figures."""
    totals = {"sum": 0.0, "count": 0.0}
    for metric in runtime.sync.metrics.registry.collect():
        for sample in metric.samples:
            if sample.labels.get("priority") == "user" and sample.name.endswith(("_sum", "_count")):
                totals[sample.name.rsplit("_", 1)[1]] += sample.value
    return totals["sum"] / totals["count"] * 1000 if totals["count"] else 0.0


# ---------------------------------------------------------------------------------------------------- (b) paying
def _qbo_round_trips(sandbox: Sandbox, business: Business) -> dict[str, float]:
    """The baseline of the payment figures: one bare QBO read at the injected latency (ms)."""
    elapsed_ms: list[float] = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        business.realm.client.get(f"/companyinfo/{business.realm.realm_id}").raise_for_status()
        elapsed_ms.append((time.perf_counter() - started) * 1000)
    return {"qbo_round_trip_p50_ms": median(elapsed_ms), "qbo_round_trip_p95_ms": percentile(elapsed_ms, 95)}


def _pay_warm(business: Business) -> dict[str, float]:
    """PAYMENTS bill payments, one after another, through the app's HTTP API, after the console listed the bills."""
    customer, realm = business.customer, business.realm
    bills = realm.create_open_bills([Decimal("120.00") + index for index in range(PAYMENTS)])
    account_id = realm.bank_account_id()
    _open_the_console(customer)
    paid_ms = [_timed_payment(customer, bill, account_id) for bill in bills]
    return {"pay_p50_ms": median(paid_ms), "pay_p95_ms": percentile(paid_ms, 95)}


def _pay_cold(settings: Settings, business: Business, devnull: TextIO) -> dict[str, float]:
    """COLD_PAYMENTS payments, each the first request of a freshly built app (empty caches, new connections) that
    nobody listed bills in: the bill and the account are checked against the business's mirror, synced beforehand."""
    realm = business.realm
    bills = realm.create_open_bills([Decimal("300.00") + index for index in range(COLD_PAYMENTS)])
    account_id = realm.bank_account_id()
    asyncio.run(_sync_mirror(settings, business))
    paid_ms: list[float] = []
    for bill in bills:
        app = create_app(settings)
        _log_as_in_production(devnull)
        with serve(app) as app_url:
            fresh = Customer(
                app_url,
                business.customer.email,
                business.customer.business_id,
                realm.realm_id,
                business.customer.token,
                httpx.Client(
                    base_url=app_url,
                    headers={"Authorization": f"Bearer {business.customer.token}"},
                    timeout=HTTP_TIMEOUT_SECONDS,
                ),
            )
            try:
                # Untimed: a freshly started process carries no garbage, while this one holds that of every app built
                # before (and the sandbox's); left in, a collection of it lands in some payment's time.
                gc.collect()
                paid_ms.append(_timed_payment(fresh, bill, account_id))
            finally:
                fresh.close()
    return {"pay_cold_p50_ms": median(paid_ms), "pay_cold_p95_ms": percentile(paid_ms, 95)}


async def _sync_mirror(settings: Settings, business: Business) -> None:
    """Untimed: a full sync of the business's mirror, bills to pay included, through the app's own QBO runtime."""
    database = Database(settings.database_url)
    runtime = build_runtime(settings, database.sessionmaker, database=database)
    try:
        mirror = MirrorSync(sync=runtime.sync, connections=runtime.connections, sessionmaker=database.sessionmaker)
        report = await mirror.full(business.business_id)
    finally:
        await runtime.aclose()
    if report.outcome is not SyncOutcome.SUCCEEDED:
        raise RuntimeError(f"the mirror sync did not succeed: {report}")


def _timed_payment(customer: Customer, bill: dict[str, object], account_id: str) -> float:
    started = time.perf_counter()
    response = customer.pay(str(bill["Id"]), Decimal(str(bill["Balance"])), account_id, key=f"bench-{uuid.uuid4().hex}")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"payment failed: {response.status_code} {response.text}")
    return elapsed


def _open_the_console(customer: Customer) -> None:
    """What the console does when it opens (untimed): list the open bills, the ones the user then pays."""
    response = customer.api.get(f"/api/businesses/{customer.business_id}/bills")
    if response.status_code != 200:
        raise RuntimeError(f"listing the open bills failed: {response.status_code} {response.text}")


def _log_as_in_production(devnull: TextIO) -> None:
    """Every QBO attempt is logged at INFO as JSON, as in production (its cost is SmartSync's), but not shown."""
    configure_logging("INFO", "json", stream=devnull)


# ------------------------------------------------------------------------------------------------------------ run
def _settings(work_dir: Path, sandbox_url: str) -> Settings:
    database_url = f"sqlite+aiosqlite:///{work_dir / 'bench.db'}"
    upgrade_to_head(database_url)
    base = Settings(
        environment="test",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        auto_migrate=False,
        log_level="WARNING",
    )
    return app_settings(base, sandbox_url, redis_url=None, mirror_sweep=False)


@dataclass(frozen=True)
class Served:
    """The app served beside a sandbox without rate limits, logging as in production (to ``devnull``)."""

    settings: Settings
    sandbox: Sandbox
    app_url: str
    devnull: TextIO


@contextlib.contextmanager
def served_beside_a_sandbox() -> Iterator[Served]:
    """The app on a fresh SQLite database of its own, beside a sandbox without rate limits; all closed at the end."""
    with (
        open(os.devnull, "w") as devnull,
        sandbox_server(sandbox_config(limits=False)) as sandbox,
        tempfile.TemporaryDirectory() as work_dir,
    ):
        settings = _settings(Path(work_dir), sandbox.base_url)
        app = create_app(settings)
        _log_as_in_production(devnull)  # create_app set the settings' level; measure with production's instead
        with serve(app) as app_url:
            yield Served(settings, sandbox, app_url, devnull)


def run() -> dict[str, float]:
    with served_beside_a_sandbox() as served:
        settings, sandbox, app_url = served.settings, served.sandbox, served.app_url
        businesses = []
        for seed in range(OVERHEAD_REALMS):
            realm = sandbox.realm_api(sandbox.create_realm(scenario="healthy", seed=5 + seed))
            businesses.append(Business(connect_customer(app_url, realm.realm_id), realm))
        try:
            figures = asyncio.run(_overhead(settings, businesses))
            sandbox.configure_faults(latency_ms=QBO_LATENCY_MS, jitter_ms=0.0, error_rate=0.0)
            figures |= _qbo_round_trips(sandbox, businesses[0])
            figures |= _pay_warm(businesses[0])
            figures |= _pay_cold(settings, businesses[1], served.devnull)
        finally:
            sandbox.calm()
            for business in businesses:
                business.customer.close()
                business.realm.close()
    figures["overhead_calls"] = OVERHEAD_CALLS
    figures["payments"] = PAYMENTS
    figures["cold_payments"] = COLD_PAYMENTS
    figures["qbo_latency_ms"] = QBO_LATENCY_MS
    return figures


# Each figure and the baseline it is judged against, both measured in the same run.
BASELINES = {
    "smartsync_p50_ms": "bare_p50_ms",
    "smartsync_p95_ms": "bare_p95_ms",
    "overhead_p50_ms": "bare_p50_ms",
    "overhead_p95_ms": "bare_p95_ms",
    "pay_p50_ms": "qbo_round_trip_p50_ms",
    "pay_p95_ms": "qbo_round_trip_p95_ms",
    "pay_cold_p50_ms": "qbo_round_trip_p50_ms",
    "pay_cold_p95_ms": "qbo_round_trip_p95_ms",
}


def main() -> None:
    write_results("smartsync", run(), BASELINES)


if __name__ == "__main__":
    main()
