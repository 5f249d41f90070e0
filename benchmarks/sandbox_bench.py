"""Sandbox speed: a page of 1000 rows of the realm's biggest entity (at least 20,000 rows) against a tiny read."""

from __future__ import annotations

import time

import httpx

from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from oodaloo.sandbox.query import ENTITIES
from tests.support.servers import serve

from ._common import median, percentile, write_results

REALM_SIZE = 100_000
# A page from a small entity says little about serving a big realm: the paged entity must be at least this big.
MIN_PAGED_ROWS = 20_000
PAGE_SIZE = 1000
SAMPLES = 40
WARMUP = 5
# Read as one object, not as a list: nothing to page.
SINGLETONS = frozenset({"CompanyInfo", "Preferences"})


def _timed(client: httpx.Client, path: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed_ms


def _count(client: httpx.Client, entity: str) -> int:
    body = client.get("query", params={"query": f"SELECT COUNT(*) FROM {entity}"}).raise_for_status().json()
    return int(body["QueryResponse"]["totalCount"])


def _biggest_entity(client: httpx.Client) -> tuple[str, int]:
    """The entity with the most rows, counted through the API; refuses a realm where it is under MIN_PAGED_ROWS."""
    counts = {entity: _count(client, entity) for entity in ENTITIES if entity not in SINGLETONS}
    entity = max(counts, key=lambda name: counts[name])
    if counts[entity] < MIN_PAGED_ROWS:
        raise RuntimeError(
            f"the biggest entity, {entity}, has {counts[entity]} rows; the benchmark needs at least "
            f"{MIN_PAGED_ROWS} (raise REALM_SIZE)"
        )
    return entity, counts[entity]


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
            entity, rows = _biggest_entity(client)
            pages = rows // PAGE_SIZE

            def page(i: int) -> float:
                # Full pages spread over the whole entity, the last ones included.
                start = 1 + (i % pages) * PAGE_SIZE
                query = f"SELECT * FROM {entity} STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
                return _timed(client, "query", {"query": query, "minorversion": "75"})

            def small(_: int) -> float:
                return _timed(client, f"companyinfo/{realm_id}", {})

            for i in range(WARMUP):
                page(i)
                small(i)
            page_ms = [page(i) for i in range(SAMPLES)]
            small_ms = [small(i) for i in range(SAMPLES)]
            bills, invoices = _count(client, "Bill"), _count(client, "Invoice")

    p50, small_p50 = median(page_ms), median(small_ms)
    print(f"page_1000_ms is measured on {entity} ({rows} rows)")
    return {
        "page_1000_ms": p50,
        "page_1000_p95_ms": percentile(page_ms, 95),
        "page_1000_entity_rows": float(rows),
        "baseline_companyinfo_ms": small_p50,
        "page_1000_vs_companyinfo_ratio": p50 / small_p50,
        "realm_bills": float(bills),
        "realm_invoices": float(invoices),
        "realm_seed_seconds": seed_seconds,
    }


def main() -> None:
    write_results("sandbox", run())
