"""``/metrics`` over real HTTP shows SmartSync's QBO call metrics beside the HTTP ones (issue #6, defect 5: they were
kept in a registry nothing rendered)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from oodaloo.settings import Settings
from tests.acceptance.harness import sandbox_config, served_app


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

    requests = _samples(text, "oodaloo_qbo_requests_total")
    assert requests[frozenset({("label", "billpayment.create"), ("outcome", "200")})] == 1.0
    assert sum(requests.values()) > 1  # the reads before the write went through SmartSync too
    waits = _samples(text, "oodaloo_qbo_slot_wait_seconds_count")
    assert waits[frozenset({("priority", "user")})] >= 1
    assert "oodaloo_http_requests_total" in text  # the app's own metrics are still there
