"""``/metrics`` over real HTTP shows SmartSync's QBO call metrics beside the HTTP ones (issue #6, defect 5: they were
kept in a registry nothing rendered), by realm, with each realm's circuit and each business's last mirror sync."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from oodaloo.settings import Settings
from tests.acceptance.harness import Customer, sandbox_config, served_app

# A sync of the demo realm takes a second or two; the bound is for a busy machine (-n 8 on 2 cores).
SYNC_WAIT_SECONDS = 60.0


def _samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples named ``name`` in a Prometheus text exposition, by their labels."""
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_metrics_show_smartsync_qbo_calls_after_a_payment(settings: Settings) -> None:
    with served_app(settings, sandbox_config(limits=False), seed=71) as served:
        bill = served.realm.create_open_bills([Decimal("42.00")])[0]
        account_id = served.realm.bank_account_id()
        paid = served.customer.pay(bill["Id"], Decimal("42.00"), account_id, key=f"metrics-{uuid.uuid4().hex}")
        assert paid.status_code == 200, paid.text

        text = httpx.get(f"{served.customer.app_url}/metrics", timeout=30).text

    realm = ("realm_id", served.realm.realm_id)
    requests = _samples(text, "oodaloo_qbo_requests_total")
    assert requests[frozenset({realm, ("label", "billpayment.create"), ("outcome", "200")})] == 1.0
    assert sum(requests.values()) > 1  # the reads before the write went through SmartSync too
    assert all(realm in labels for labels in requests)  # every call is counted by its realm
    assert _samples(text, "oodaloo_qbo_circuit_state") == {frozenset({realm}): 0.0}  # closed
    waits = _samples(text, "oodaloo_qbo_slot_wait_seconds_count")
    assert waits[frozenset({("priority", "user")})] >= 1
    assert "oodaloo_http_requests_total" in text  # the app's own metrics are still there


def test_metrics_show_when_each_business_mirror_last_synced(settings: Settings) -> None:
    # "Sync now" is a queued job: it runs in the app's own process here (the Redis queue's worker processes are
    # proven in tests/acceptance/test_sync_under_kills.py, which also reads a worker's /metrics).
    with served_app(settings, sandbox_config(limits=False), seed=72, redis_url=None) as served:
        customer = served.customer
        before = httpx.get(f"{customer.app_url}/metrics", timeout=30).text
        started = customer.api.post(f"/api/businesses/{customer.business_id}/sync")
        assert started.status_code == 202, started.text
        last_success = _wait_for_success(customer)

        text = httpx.get(f"{customer.app_url}/metrics", timeout=30).text

    business = frozenset({("business_id", customer.business_id)})
    assert business not in _samples(before, "oodaloo_mirror_last_sync_timestamp_seconds")
    synced_at = datetime.fromisoformat(last_success["finished_at"]).timestamp()
    assert _samples(text, "oodaloo_mirror_last_sync_timestamp_seconds")[business] == synced_at


def _wait_for_success(customer: Customer) -> Any:
    """The status's last successful run, once the sync started has finished (bounded)."""
    limit = time.monotonic() + SYNC_WAIT_SECONDS
    while True:
        status = customer.api.get(f"/api/businesses/{customer.business_id}/sync")
        assert status.status_code == 200, status.text
        body = status.json()
        assert body["last_error"] is None, body["last_error"]
        if body["last_success"] is not None:
            return body["last_success"]
        assert time.monotonic() < limit, "the sync never finished"
        time.sleep(0.1)
