"""SmartSync's cost, measured against the sandbox on loopback: (a) its per-call overhead over a bare HTTP client,
(b) paying a bill end to end through the API while QBO answers in 150 ms, after listing the open bills once as the
console does when it opens."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from oodaloo.infra.jobs.rate_limit import Budget
from oodaloo.infra.jobs.smart_sync import QBOCall, RateLimits, SmartSyncService
from oodaloo.infra.logging import configure_logging
from oodaloo.main import create_app
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import Settings
from tests.acceptance.harness import Customer, Sandbox, app_settings, connect_customer, sandbox_config, sandbox_server
from tests.support.servers import serve

from ._common import median, percentile, write_results

OVERHEAD_CALLS = 400
WARMUP_CALLS = 20
PAYMENTS = 60
QBO_LATENCY_MS = 150.0
MINOR_VERSION = "75"
# "Limits off" for the overhead run: SmartSync still takes a slot per call, but no window ever makes it wait.
UNLIMITED = RateLimits(user=Budget(10**9, 10**9, 10**6), background=Budget(10**9, 10**9, 10**6))
BENCH_SECRET_KEY = "benchmark-only-secret-key-0123456789abcdef"


class MintedToken:
    """Credentials for the overhead run: one token minted by the sandbox (SmartSync's Credentials protocol)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self) -> str:
        return self._token

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        return self._token


async def _overhead(sandbox: Sandbox) -> dict[str, float]:
    """The same companyinfo read, alternately through a bare client and through SmartSync; per-call times in ms."""
    realm_id = sandbox.app.state.sandbox.store.default_realm_id
    token = sandbox.admin.post("/_sandbox/tokens", json={"realm_id": realm_id}).json()["access_token"]
    path = f"/v3/company/{realm_id}/companyinfo/{realm_id}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    engine = create_async_engine("sqlite+aiosqlite://")  # SmartSync wants one; a read records nothing
    sync = SmartSyncService.create(
        api_base_url=sandbox.base_url, sessionmaker=async_sessionmaker(engine), limits=UNLIMITED
    )
    call = QBOCall(realm_id=realm_id, method="GET", path=path, params={"minorversion": MINOR_VERSION})
    credentials = MintedToken(token)
    bare_ms: list[float] = []
    smart_ms: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url, headers=headers, timeout=30) as bare:
            for index in range(WARMUP_CALLS + OVERHEAD_CALLS):
                started = time.perf_counter()
                (await bare.get(path, params={"minorversion": MINOR_VERSION})).raise_for_status()
                bare_elapsed = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                response = await sync.execute_with_retry(call, credentials=credentials)
                smart_elapsed = (time.perf_counter() - started) * 1000
                assert response.status == 200, response.status
                if index >= WARMUP_CALLS:
                    bare_ms.append(bare_elapsed)
                    smart_ms.append(smart_elapsed)
    finally:
        await sync.aclose()
        await engine.dispose()
    return {
        "bare_p50_ms": median(bare_ms),
        "bare_p95_ms": percentile(bare_ms, 95),
        "smartsync_p50_ms": median(smart_ms),
        "smartsync_p95_ms": percentile(smart_ms, 95),
        "overhead_p50_ms": median(smart_ms) - median(bare_ms),
        "overhead_p95_ms": percentile(smart_ms, 95) - percentile(bare_ms, 95),
        "overhead_ratio_p50": median(smart_ms) / median(bare_ms),
    }


def _pay_end_to_end(sandbox: Sandbox, work_dir: Path, devnull: TextIO) -> dict[str, float]:
    """PAYMENTS bill payments, one after another, through the app's HTTP API while every QBO call takes 150 ms."""
    database_url = f"sqlite+aiosqlite:///{work_dir / 'bench.db'}"
    upgrade_to_head(database_url)
    base = Settings(
        environment="test",
        database_url=database_url,
        secret_key=BENCH_SECRET_KEY,
        auto_migrate=False,
        log_level="WARNING",
    )
    realm = sandbox.realm_api(sandbox.create_realm(scenario="healthy", seed=5))
    bills = realm.create_open_bills([Decimal("120.00") + index for index in range(PAYMENTS)])
    account_id = realm.bank_account_id()
    paid_ms: list[float] = []
    app = create_app(app_settings(base, sandbox.base_url, redis_url=None))
    _log_as_in_production(devnull)  # create_app set the settings' level; measure with production's instead
    with serve(app) as app_url:
        customer = connect_customer(app_url, realm.realm_id)
        sandbox.configure_faults(latency_ms=QBO_LATENCY_MS, jitter_ms=0.0, error_rate=0.0)
        try:
            _open_the_console(customer)
            for bill in bills:
                started = time.perf_counter()
                response = customer.pay(bill["Id"], Decimal(str(bill["Balance"])), account_id)
                paid_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"payment failed: {response.status_code} {response.text}")
        finally:
            sandbox.calm()
            customer.close()
            realm.close()
    return {
        "pay_p50_ms": median(paid_ms),
        "pay_p95_ms": percentile(paid_ms, 95),
        "pay_vs_qbo_latency_ratio": median(paid_ms) / QBO_LATENCY_MS,
        "qbo_latency_ms": QBO_LATENCY_MS,
    }


def _open_the_console(customer: Customer) -> None:
    """What the console does when it opens (untimed): list the open bills, the ones the user then pays."""
    response = customer.api.get(f"/api/businesses/{customer.business_id}/bills")
    if response.status_code != 200:
        raise RuntimeError(f"listing the open bills failed: {response.status_code} {response.text}")


def _log_as_in_production(devnull: TextIO) -> None:
    """Every QBO attempt is logged at INFO as JSON, as in production (its cost is SmartSync's), but not shown."""
    configure_logging("INFO", "json", stream=devnull)


def run() -> dict[str, float]:
    with (
        open(os.devnull, "w") as devnull,
        sandbox_server(sandbox_config(limits=False)) as sandbox,
        tempfile.TemporaryDirectory() as work_dir,
    ):
        _log_as_in_production(devnull)
        figures = asyncio.run(_overhead(sandbox))
        figures |= _pay_end_to_end(sandbox, Path(work_dir), devnull)
    figures["overhead_calls"] = OVERHEAD_CALLS
    figures["payments"] = PAYMENTS
    return figures


def main() -> None:
    write_results("smartsync", run())


if __name__ == "__main__":
    main()
