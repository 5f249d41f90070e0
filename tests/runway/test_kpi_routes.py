"""``GET /api/businesses/{id}/kpis`` over real HTTP on a synced demo company: every figure adds up from what the other
routes list and from QBO's own objects — aging from the open invoices and bills, DSO and DPO from the invoices and bills
dated in the trailing 90 days, cash and burn as the runway shows them — read by any member, refused before the first
sync and for a bad trend window, naming the field."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from oodaloo.domains.ar.collections import aging_bucket
from oodaloo.domains.qbo.mirror_models import VOID_NOTE_PREFIX
from oodaloo.settings import Settings
from tests.domains.core.drift_support import Watched
from tests.domains.qbo.bulk_support import Fleet, fleet
from tests.support.clock import Instant, at
from tests.support.qbo import add_member

MORNING = Instant("America/Chicago", time(10, 0))
TENTH = Decimal("0.1")


@pytest.fixture(scope="module")
def books(settings: Settings, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Fleet]:
    with at(MORNING), fleet(settings, tmp_path_factory.mktemp("kpis"), f"oodaloo_kpi_routes_{worker_id}") as found:
        yield found


@pytest.fixture(scope="module")
def company(books: Fleet) -> Watched:
    business = Watched.connect(books, MORNING.zone)
    business.sync()
    return business


@pytest.fixture(scope="module")
def kpis(company: Watched) -> dict[str, Any]:
    found: dict[str, Any] = company.get("/kpis")
    return found


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def live(objects: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [obj for obj in objects.values() if not str(obj.get("PrivateNote") or "").startswith(VOID_NOTE_PREFIX)]


def in_window(obj: dict[str, Any], today: date) -> bool:
    return today - timedelta(days=90) < date.fromisoformat(obj["TxnDate"]) <= today


def buckets(aged: dict[str, Any]) -> dict[str, tuple[int, Decimal]]:
    return {bucket["bucket"]: (bucket["count"], money(bucket["balance"])) for bucket in aged["buckets"]}


def test_the_receivables_aging_adds_up_from_the_open_invoices_listed(company: Watched, kpis: dict[str, Any]) -> None:
    invoices = company.get("/invoices")
    assert invoices  # the demo has receivables
    expected: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal("0.00")))
    for invoice in invoices:
        count, balance = expected[invoice["aging_bucket"]]
        expected[invoice["aging_bucket"]] = (count + 1, balance + money(invoice["balance"]))
    aged = kpis["receivables_aging"]
    assert {bucket: found for bucket, found in buckets(aged).items() if found[0]} == dict(expected)
    assert money(aged["total"]) == sum((money(invoice["balance"]) for invoice in invoices), Decimal(0))
    assert any(bucket != "current" for bucket in expected)  # some are overdue: the buckets are exercised


def test_the_payables_aging_adds_up_from_the_open_bills_listed(company: Watched, kpis: dict[str, Any]) -> None:
    today = date.fromisoformat(kpis["as_of"])
    bills = company.get("/bills")
    assert bills
    expected: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal("0.00")))
    for bill in bills:
        due = date.fromisoformat(bill["due_date"] or bill["txn_date"])
        bucket = aging_bucket((today - due).days)
        count, balance = expected[bucket]
        expected[bucket] = (count + 1, balance + money(bill["balance"]))
    aged = kpis["payables_aging"]
    assert {bucket: found for bucket, found in buckets(aged).items() if found[0]} == dict(expected)


def test_dso_and_dpo_follow_their_formulas_from_qbos_own_invoices_and_bills(
    company: Watched, kpis: dict[str, Any]
) -> None:
    today = date.fromisoformat(kpis["as_of"])
    invoiced = sum(
        (money(i["TotalAmt"]) for i in live(company.realm.objects("Invoice")) if in_window(i, today)), Decimal(0)
    )
    billed = sum((money(b["TotalAmt"]) for b in live(company.realm.objects("Bill")) if in_window(b, today)), Decimal(0))
    dso, dpo = kpis["dso"], kpis["dpo"]
    assert (money(dso["period_total"]), money(dpo["period_total"])) == (invoiced, billed)
    assert money(dso["outstanding"]) == money(kpis["receivables_aging"]["total"])
    assert money(dpo["outstanding"]) == money(kpis["payables_aging"]["total"])
    assert money(dso["days"]) == (money(dso["outstanding"]) / invoiced * 90).quantize(TENTH)
    assert money(dpo["days"]) == (money(dpo["outstanding"]) / billed * 90).quantize(TENTH)
    assert dso["window_days"] == dpo["window_days"] == 90
    assert dso["formula"].startswith("DSO = open receivables")


def test_cash_and_burn_are_the_runways_own(company: Watched, kpis: dict[str, Any]) -> None:
    runway = company.get("/runway")
    assert kpis["as_of"] == runway["as_of"] == MORNING.day.isoformat()
    assert money(kpis["cash"]) == money(runway["starting_cash"])
    assert money(kpis["burn"]["weekly"]) == money(runway["burn"])
    assert kpis["currency"] == runway["currency"]


def test_any_member_reads_the_kpis(books: Fleet, company: Watched) -> None:
    viewer = books.browsers.sign_up("kpi-viewer")
    add_member(books.owner, str(company.business_id), viewer, "viewer")
    assert viewer.get(company.url("/kpis")).status_code == 200
    stranger = books.browsers.sign_up("kpi-stranger")
    refused = stranger.get(company.url("/kpis"))
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "business_not_found"


def test_before_the_first_sync_the_kpis_are_refused_saying_why(books: Fleet) -> None:
    unsynced = Watched.connect(books, MORNING.zone)
    response = books.owner.get(unsynced.url("/kpis"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "mirror_not_synced"


@pytest.mark.parametrize("days", ["0", "367", "ninety"])
def test_a_bad_trend_window_is_refused_naming_the_field(company: Watched, days: str) -> None:
    response = company.books.owner.get(company.url("/kpis"), params={"trend_days": days})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "trend_days"
