"""The alerts API over real HTTP, on alerts raised the real way (QBO changed in the sandbox, the worker synced and
checked): listed open by default, newest first, filtered by status and kind; acknowledged by owners and advisors (once,
recorded in the audit log), never by viewers; another business's alert is not found; bad filters are refused naming
the field."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.settings import Settings
from tests.domains.core.drift_support import Watched
from tests.domains.qbo.bulk_support import Fleet, fleet
from tests.support.clock import Instant, at
from tests.support.qbo import Browser, add_member

MORNING = Instant("America/Denver", time(10, 0))


@pytest.fixture(scope="module")
def books(settings: Settings, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Fleet]:
    with at(MORNING), fleet(settings, tmp_path_factory.mktemp("alerts"), f"oodaloo_alert_routes_{worker_id}") as found:
        yield found


def with_two_alerts(books: Fleet) -> Watched:
    """A business whose QBO got a large new bill and a paid invoice since its first sync: two open alerts."""
    business = Watched.connect(books, MORNING.zone)
    business.sync()
    totals = [Decimal(str(bill["TotalAmt"])) for bill in business.realm.objects("Bill").values()]
    business.company.new_bill(str((max(totals) * 20).quantize(Decimal("0.01"))))
    invoice = business.open_invoices()[0]
    business.receive_in_qbo(invoice, Decimal(str(invoice["Balance"])))
    business.sync()
    return business


@pytest.fixture(scope="module")
def raised(books: Fleet) -> Watched:
    """Read by the tests that change nothing."""
    return with_two_alerts(books)


@pytest.fixture
def own(books: Fleet) -> Watched:
    """For a test that acknowledges."""
    return with_two_alerts(books)


def member(books: Fleet, business: Watched, role: str) -> Browser:
    browser = books.browsers.sign_up(f"alerts-{role}")
    add_member(books.owner, str(business.business_id), browser, role)
    return browser


def listed(browser: Browser, business: Watched, **params: Any) -> httpx.Response:
    return browser.get(business.url("/alerts"), params=params)


def acknowledge(browser: Browser, business: Watched, alert_id: str) -> httpx.Response:
    return browser.post(business.url(f"/alerts/{alert_id}/acknowledge"))


def test_open_alerts_are_listed_newest_first_with_what_to_do(books: Fleet, raised: Watched) -> None:
    response = listed(books.owner, raised)
    assert response.status_code == 200, response.text
    alerts = response.json()
    assert sorted(alert["kind"] for alert in alerts) == ["invoice_paid", "large_bill"]
    assert [alert["raised_at"] for alert in alerts] == sorted((alert["raised_at"] for alert in alerts), reverse=True)
    for alert in alerts:
        assert alert["status"] == "open"
        assert alert["reason"].endswith(".")
        assert alert["what_to_do"]
        assert alert["action"]["path"].startswith(raised.url())
        assert (alert["acknowledged_at"], alert["resolved_at"]) == (None, None)


def test_alerts_are_filtered_by_kind_and_status(books: Fleet, raised: Watched) -> None:
    only = listed(books.owner, raised, kind="large_bill").json()
    assert [alert["kind"] for alert in only] == ["large_bill"]
    both = listed(books.owner, raised, kind=["large_bill", "invoice_paid"]).json()
    assert len(both) == 2
    assert listed(books.owner, raised, status="resolved").json() == []
    assert listed(books.owner, raised, status="acknowledged").json() == []
    assert len(listed(books.owner, raised, status="all").json()) == 2
    assert len(listed(books.owner, raised, limit=1).json()) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "closed"}, "status"), ({"kind": "big_bill"}, "kind.0"), ({"limit": "0"}, "limit")],
)
def test_a_bad_filter_is_refused_naming_the_field(
    books: Fleet, raised: Watched, params: dict[str, str], field: str
) -> None:
    response = listed(books.owner, raised, **params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_an_advisor_acknowledges_once_and_the_audit_log_says_who(books: Fleet, own: Watched) -> None:
    advisor = member(books, own, "advisor")
    advisor_id = advisor.get("/api/me").json()["id"]
    alert = next(alert for alert in listed(advisor, own).json() if alert["kind"] == "large_bill")

    first = acknowledge(advisor, own, alert["id"])
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["acknowledged_by"]) == ("acknowledged", advisor_id)
    again = acknowledge(books.owner, own, alert["id"])  # the owner, later: the first acknowledgement stands
    assert again.status_code == 200
    assert (again.json()["acknowledged_at"], again.json()["acknowledged_by"]) == (
        first.json()["acknowledged_at"],
        advisor_id,
    )

    assert [left["kind"] for left in listed(books.owner, own).json()] == ["invoice_paid"]
    assert [seen["id"] for seen in listed(books.owner, own, status="acknowledged").json()] == [alert["id"]]
    events = books.owner.get(own.url("/audit")).json()["events"]
    acknowledged = [event for event in events if event["action"] == "alert.acknowledged"]
    assert len(acknowledged) == 1
    assert (acknowledged[0]["subject_id"], acknowledged[0]["actor"]["user_id"]) == (alert["id"], advisor_id)


def test_a_viewer_reads_alerts_but_cannot_acknowledge_them(books: Fleet, raised: Watched) -> None:
    viewer = member(books, raised, "viewer")
    alerts = listed(viewer, raised).json()
    assert len(alerts) == 2
    refused = acknowledge(viewer, raised, alerts[0]["id"])
    assert refused.status_code == 403
    assert listed(books.owner, raised, status="acknowledged").json() == []


def test_another_business_alert_is_not_found_here(books: Fleet, raised: Watched) -> None:
    other = Watched.connect(books, MORNING.zone)
    theirs = listed(books.owner, raised).json()[0]["id"]
    for alert_id in (theirs, "00000000-0000-4000-8000-000000000000"):
        response = acknowledge(books.owner, other, alert_id)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "alert_not_found"
    assert listed(books.owner, other).json() == []


def test_the_median_bill_rule_saw_a_bill_far_above_the_usual(raised: Watched) -> None:
    totals = [Decimal(str(bill["TotalAmt"])) for bill in raised.realm.objects("Bill").values()]
    [large] = listed(raised.books.owner, raised, kind="large_bill").json()
    assert Decimal(large["amount"]) > 3 * statistics.median(totals)
