"""Issue #3 acceptance 3: two OS processes read a whole realm at background priority while a customer pays bills
through the API; sharing SmartSync's limiter through Redis, together they never get a 429 from QBO (the sandbox at
QBO's real limits) nor exceed its 10 requests in flight, and the payments get their slots promptly."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.settings import Settings
from tests.acceptance.harness import Served, sandbox_config, served_app
from tests.acceptance.read_loop import READY_LINE
from tests.conftest import TEST_REDIS_URL
from tests.support.app_process import AppProcess, python_module_command, running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        TEST_REDIS_URL is None,
        reason="needs OODALOO_TEST_REDIS_URL: the processes share SmartSync's limiter through Redis (CI's Redis pass)",
    ),
]

REALM_SIZE = 4500  # transactions, so a full read is several pages of every big entity
READERS = 2
READ_SECONDS = 45.0
PAYMENTS = 30
PAYMENT_PAUSE_SECONDS = 0.5
QBO_MAX_IN_FLIGHT = 10
# Each request takes at least this long at QBO, so requests overlap and the in-flight cap is really exercised.
QBO_LATENCY_MS = 100.0
WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with served_app(settings, sandbox_config(limits=True), seed=31, size=REALM_SIZE, redis_url=TEST_REDIS_URL) as ready:
        yield ready


def _reader(served: Served, log_path: Path) -> AppProcess:
    env = {
        "READ_LOOP_SANDBOX_URL": served.sandbox.base_url,
        "READ_LOOP_REALM_ID": served.realm.realm_id,
        "READ_LOOP_REDIS_URL": str(TEST_REDIS_URL),
        "READ_LOOP_SECONDS": str(READ_SECONDS),
    }
    return AppProcess(python_module_command("tests.acceptance.read_loop"), env=env, log_path=log_path)


def _wait_until_reading(readers: list[AppProcess]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not all(READY_LINE in reader.output() for reader in readers):
        for reader in readers:
            assert reader.exit_code() is None, reader.output()
        assert time.monotonic() < deadline, [reader.output() for reader in readers]
        time.sleep(0.1)


def _summary(reader: AppProcess) -> dict[str, float]:
    summary: dict[str, float] = json.loads(reader.output().strip().splitlines()[-1])
    return summary


def _user_slot_wait_percentiles(sync: SmartSyncService) -> dict[str, float]:
    """p50 and p95 of the user calls' wait for a slot, from the app's histogram (each the upper edge of its bucket)."""
    buckets: list[tuple[float, float]] = []
    for metric in sync.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("priority") == "user":
                buckets.append((float(sample.labels["le"]), sample.value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    assert total > 0, "no user call was counted"

    def percentile(pct: float) -> float:
        return next(edge for edge, count in buckets if count >= pct / 100 * total)

    return {"user_slot_wait_p50_s_at_most": percentile(50), "user_slot_wait_p95_s_at_most": percentile(95)}


def _nearest_rank(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered), round(pct / 100 * len(ordered))) - 1)]


def test_background_readers_and_payments_stay_within_qbo_limits(
    served: Served, tmp_path: Path, report_figures: Any
) -> None:
    sandbox, realm, customer = served.sandbox, served.realm, served.customer
    # Set-up traffic is not part of the measurement: made with limits off, then the sandbox's windows start empty.
    sandbox.configure_limits(enabled=False)
    bills = realm.create_open_bills([Decimal("80.00") + index for index in range(PAYMENTS)])
    account_id = realm.bank_account_id()
    sandbox.configure_limits(enabled=True, reset=True)
    sandbox.reset_stats(realm.realm_id)
    sandbox.configure_faults(latency_ms=QBO_LATENCY_MS)

    readers = [_reader(served, tmp_path / f"reader-{n}.log") for n in range(READERS)]
    with contextlib.ExitStack() as stack:
        for reader in readers:
            stack.enter_context(running(reader))
        _wait_until_reading(readers)
        payment_seconds: list[float] = []
        for bill in bills:
            started = time.monotonic()
            response = customer.pay(bill["Id"], Decimal(str(bill["Balance"])), account_id)
            payment_seconds.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "succeeded"
            time.sleep(PAYMENT_PAUSE_SECONDS)
        for reader in readers:
            assert reader.wait(timeout=READ_SECONDS + WAIT_SECONDS) == 0, reader.output()
    sandbox.calm()
    summaries = [_summary(reader) for reader in readers]
    stats = sandbox.stats(realm.realm_id)

    # Written before the verdict, so a failing run leaves its figures too.
    figures = {
        **_user_slot_wait_percentiles(served.app.state.smart_sync),
        "payments": PAYMENTS,
        "payment_p50_s": round(_nearest_rank(payment_seconds, 50), 3),
        "payment_p95_s": round(_nearest_rank(payment_seconds, 95), 3),
        "reader_requests": sum(summary["requests"] for summary in summaries),
        "reader_rows": sum(summary["rows"] for summary in summaries),
        "sandbox_requests": stats["requests_total"],
        "sandbox_throttled": stats["throttled"],
        "sandbox_max_in_flight": stats["max_in_flight"],
    }
    report_figures("limits_test", figures)
    assert stats["throttled"] == 0, stats
    assert stats["max_in_flight"] <= QBO_MAX_IN_FLIGHT, stats
    assert all(summary["throttled"] == 0 for summary in summaries), summaries
    # The readers really competed: each paged the whole realm at least once, far more than its slots at once.
    assert all(summary["passes"] >= 1 and summary["rows"] >= REALM_SIZE for summary in summaries), summaries
