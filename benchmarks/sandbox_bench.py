"""Sandbox speed: a page of 1000 Bills from a 100,000-transaction realm, against a tiny read on the same server."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from tests.support.servers import serve

from ._common import median, percentile, write_results

REALM_SIZE = 100_000
SAMPLES = 40
WARMUP = 5


def _timed(client: httpx.Client, path: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed_ms


def _count(client: httpx.Client, entity: str) -> int:
    body = client.get("query", params={"query": f"SELECT COUNT(*) FROM {entity}"}).raise_for_status().json()
    return int(body["QueryResponse"]["totalCount"])


def run() -> dict[str, float]:
    seed_started = time.perf_counter()
    # Limits off: the benchmark measures serving speed, not QBO's throttle.
    app = create_sandbox_app(SandboxConfig(size=REALM_SIZE, limits=LimitsConfig(enabled=False)))
    seed_seconds = time.perf_counter() - seed_started
    state = app.state.sandbox
    realm_id = state.store.default_realm_id
    with serve(app) as base_url:
        token = httpx.post(f"{base_url}/_sandbox/tokens", json={"realm_id": realm_id}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        with httpx.Client(base_url=f"{base_url}/v3/company/{realm_id}", headers=headers, timeout=30) as client:
            bills = _count(client, "Bill")
            invoices = _count(client, "Invoice")

            def page_of(entity: str, total: int) -> Callable[[int], float]:
                pages = max(1, total // 1000)

                def page(i: int) -> float:
                    start = 1 + (i % pages) * 1000
                    query = f"SELECT * FROM {entity} STARTPOSITION {start} MAXRESULTS 1000"
                    return _timed(client, "query", {"query": query, "minorversion": "75"})

                return page

            page, invoice_page = page_of("Bill", bills), page_of("Invoice", invoices)

            def small(_: int) -> float:
                return _timed(client, f"companyinfo/{realm_id}", {})

            for i in range(WARMUP):
                page(i)
                invoice_page(i)
                small(i)
            page_ms = [page(i) for i in range(SAMPLES)]
            invoice_ms = [invoice_page(i) for i in range(SAMPLES)]
            small_ms = [small(i) for i in range(SAMPLES)]

    p50, small_p50 = median(page_ms), median(small_ms)
    return {
        "page_1000_ms": p50,
        "page_1000_p95_ms": percentile(page_ms, 95),
        "page_1000_invoices_ms": median(invoice_ms),
        "baseline_companyinfo_ms": small_p50,
        "page_1000_vs_companyinfo_ratio": p50 / small_p50,
        "realm_bills": float(bills),
        "realm_invoices": float(invoices),
        "realm_seed_seconds": seed_seconds,
    }


def main() -> None:
    write_results("sandbox", run())
