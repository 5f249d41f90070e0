"""Aging reports over real HTTP: QBO's Header/Columns/Rows shape, buckets, totals, filters, empty reports.

Aging counts days from the company's today, so every test runs at each of the shared frozen instants.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.sandbox.config import SandboxConfig
from tests.sandbox.conftest import make_config
from tests.support.clock import Instant, clock_fixture

frozen_clock = clock_fixture(scope="module")


@pytest.fixture(scope="module")
def sandbox_config(frozen_clock: Instant) -> SandboxConfig:
    """The sandbox (and its demo company) is made inside the frozen clock, in the instant's zone."""
    return make_config(timezone=frozen_clock.zone)


def _report(qbo: httpx.Client, name: str, **params: str) -> dict[str, Any]:
    response = qbo.get(f"/reports/{name}", params=params)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def _all(qbo: httpx.Client, sql: str, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(1, 100_000, 1000):
        page = qbo.get("/query", params={"query": f"{sql} STARTPOSITION {start} MAXRESULTS 1000"}).json()
        batch = page["QueryResponse"].get(entity, [])
        rows += batch
        if len(batch) < 1000:
            return rows
    raise AssertionError("too many rows")


def test_aged_payables_shape_and_total(qbo: httpx.Client) -> None:
    report = _report(qbo, "AgedPayables")
    assert report["Header"]["ReportName"] == "AgedPayables"
    assert report["Header"]["Currency"] == "USD"
    titles = [c["ColTitle"] for c in report["Columns"]["Column"]]
    assert titles == ["", "Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
    rows = report["Rows"]["Row"]
    data, summary = rows[:-1], rows[-1]
    assert all(r["type"] == "Data" and r["ColData"][0]["id"] for r in data)
    assert summary["group"] == "GrandTotal"
    assert summary["Summary"]["ColData"][0]["value"] == "TOTAL"
    open_bills = _all(qbo, "SELECT * FROM Bill WHERE Balance > '0'", "Bill")
    open_credits = _all(qbo, "SELECT * FROM VendorCredit WHERE Balance > '0'", "VendorCredit")
    assert open_credits, "the demo has unused vendor credits"
    expected = sum((Decimal(str(b["Balance"])) for b in open_bills), Decimal(0))
    expected -= sum((Decimal(str(c["Balance"])) for c in open_credits), Decimal(0))
    assert Decimal(summary["Summary"]["ColData"][-1]["value"]) == expected
    for row in data:
        cells = [Decimal(c["value"] or "0") for c in row["ColData"][1:]]
        assert sum(cells[:-1]) == cells[-1]


def test_aged_receivables_buckets_a_specific_customer(qbo: httpx.Client) -> None:
    customer = qbo.post("/customer", json={"DisplayName": "Aging Test Customer"}).json()["Customer"]
    item = qbo.get("/query", params={"query": "SELECT * FROM Item"}).json()["QueryResponse"]["Item"][0]
    today = date.fromisoformat(_report(qbo, "AgedReceivables")["Header"]["EndPeriod"])
    for days_late, amount in ((45, "100.00"), (0, "25.50"), (120, "7.00")):
        due = today - timedelta(days=days_late)
        body = {
            "CustomerRef": {"value": customer["Id"]},
            "TxnDate": (due - timedelta(days=30)).isoformat(),
            "DueDate": due.isoformat(),
            "Line": [
                {
                    "Amount": amount,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        }
        assert qbo.post("/invoice", json=body).status_code == 200
    report = _report(qbo, "AgedReceivables", customer=customer["Id"])
    row = report["Rows"]["Row"][0]
    assert row["ColData"][0] == {"value": "Aging Test Customer", "id": customer["Id"]}
    assert [c["value"] for c in row["ColData"][1:]] == ["25.50", "", "100.00", "", "7.00", "132.50"]
    past_due = _report(qbo, "AgedReceivables", customer=customer["Id"], past_due="60")
    assert [c["value"] for c in past_due["Rows"]["Row"][0]["ColData"][1:]] == ["", "", "", "", "7.00", "7.00"]

    # An unused credit memo is owed back: a negative amount, aged from its own date.
    memo = {
        "CustomerRef": {"value": customer["Id"]},
        "TxnDate": today.isoformat(),
        "Line": [
            {
                "Amount": "20.00",
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
            }
        ],
    }
    assert qbo.post("/creditmemo", json=memo).status_code == 200
    credited = _report(qbo, "AgedReceivables", customer=customer["Id"])
    assert [c["value"] for c in credited["Rows"]["Row"][0]["ColData"][1:]] == [
        "5.50",
        "",
        "100.00",
        "",
        "7.00",
        "112.50",
    ]


def test_empty_report_and_unknown_report(qbo: httpx.Client) -> None:
    vendor = qbo.post("/vendor", json={"DisplayName": "Aging Nothing Owed"}).json()["Vendor"]
    empty = _report(qbo, "AgedPayables", vendor=vendor["Id"])
    assert {"Name": "NoReportData", "Value": "true"} in empty["Header"]["Option"]
    assert empty["Rows"] == {}
    unknown = qbo.get("/reports/Horoscope")
    assert unknown.status_code == 400
    assert unknown.json()["Fault"]["Error"][0]["code"]
