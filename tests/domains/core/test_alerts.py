"""Drift alerts over real HTTP against the sandbox: each drift kind — a planned bill paid elsewhere, a payment voided,
a large new bill, an invoice paid — raises exactly one alert, however often the business syncs and the check runs;
what did not drift (a payment we made, a usual bill, a partly paid invoice, the history found by the first sync)
raises none. The worker's own jobs sync and check, as in production (the sync asks for the check)."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import time, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from oodaloo.domains.core.drift import LargeBillRule
from oodaloo.settings import Settings
from tests.domains.core.drift_support import Watched, Worker, with_worker
from tests.domains.qbo.bulk_support import Fleet, fleet
from tests.support.clock import Instant, at

# Mid-morning in the businesses' zone: their date cannot change while the module runs.
MORNING = Instant("America/New_York", time(10, 0))


@pytest.fixture(scope="module")
def books(settings: Settings, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Fleet]:
    with at(MORNING), fleet(settings, tmp_path_factory.mktemp("alerts"), f"oodaloo_alerts_{worker_id}") as found:
        yield found


@pytest.fixture
def watched(books: Fleet) -> Watched:
    """A business whose first sync (a full one) and first check have run: the view is recorded, nothing raised."""
    business = Watched.connect(books, MORNING.zone)
    business.sync()
    assert business.alerts() == []  # the books' history is not news
    return business


def synced_twice_and_checked(business: Watched) -> None:
    business.sync()
    business.sync()
    assert business.check().raised == []


def money(value: object) -> Decimal:
    return Decimal(str(value))


# --------------------------------------------------------------------------------------- planned bill paid elsewhere
def test_a_planned_bill_paid_elsewhere_raises_one_alert_and_one_we_paid_raises_none(watched: Watched) -> None:
    elsewhere, ours = watched.open_bills()[:2]
    planned = MORNING.day + timedelta(days=7)
    watched.plan(elsewhere["Id"], planned)
    watched.plan(ours["Id"], planned)
    bank_id = watched.company.account_id("Bank")
    payment = watched.pay_bill_in_qbo(elsewhere, money(elsewhere["Balance"]), bank_id)
    watched.pay_through_oodaloo(ours["Id"], money(ours["Balance"]), bank_id)

    watched.sync()
    synced_twice_and_checked(watched)

    [alert] = watched.alerts()
    assert alert["kind"] == "bill_paid_elsewhere"
    assert alert["status"] == "open"
    assert alert["subject"] == {"type": "bill", "id": elsewhere["Id"], "name": alert["subject"]["name"]}
    assert money(alert["amount"]) == money(elsewhere["Balance"])
    assert planned.isoformat() in alert["reason"]
    assert f"BillPayment {payment.get('DocNumber') or '#' + payment['Id']}" in alert["reason"]
    assert "did not make" in alert["reason"]
    # Nothing is left to pay: the thing to do is to make sure it was not paid twice.
    assert alert["action"] == {"method": "GET", "path": watched.url("/bills/board")}


def test_a_planned_bill_partly_paid_elsewhere_says_what_is_left_and_where_to_replan(watched: Watched) -> None:
    bill = watched.open_bills()[0]
    watched.plan(bill["Id"], MORNING.day + timedelta(days=3))
    part = (money(bill["Balance"]) / 2).quantize(Decimal("0.01"))
    watched.pay_bill_in_qbo(bill, part, watched.company.account_id("Bank"))

    synced_twice_and_checked(watched)

    [alert] = watched.alerts_of("bill_paid_elsewhere")
    left = money(bill["Balance"]) - part
    assert f"{left:,.2f} is left to pay" in alert["reason"]
    assert alert["action"] == {"method": "PATCH", "path": watched.url(f"/bills/{bill['Id']}/plan")}


def test_a_bill_scheduled_for_payment_then_paid_elsewhere_raises_one_alert(watched: Watched) -> None:
    bill = watched.open_bills()[0]
    bank_id = watched.company.account_id("Bank")
    pay_on = MORNING.day + timedelta(days=5)
    scheduled = watched.books.owner.post(
        watched.url(f"/bills/{bill['Id']}/scheduled-payments"),
        json={"amount": str(money(bill["Balance"])), "pay_from_account_id": bank_id, "pay_on": pay_on.isoformat()},
        headers={"Idempotency-Key": "schedule-once"},
    )
    assert scheduled.status_code in (200, 201), scheduled.text
    watched.pay_bill_in_qbo(bill, money(bill["Balance"]), bank_id)

    synced_twice_and_checked(watched)

    [alert] = watched.alerts()
    assert (alert["kind"], alert["subject"]["id"]) == ("bill_paid_elsewhere", bill["Id"])
    assert f"was scheduled to be paid on {pay_on}" in alert["reason"]


def test_a_bill_paid_elsewhere_without_a_plan_raises_nothing(watched: Watched) -> None:
    bill = watched.open_bills()[0]
    watched.pay_bill_in_qbo(bill, money(bill["Balance"]), watched.company.account_id("Bank"))

    synced_twice_and_checked(watched)

    assert watched.alerts() == []


# -------------------------------------------------------------------------------------------------- payment voided
def test_a_voided_bill_payment_and_a_deleted_customer_payment_raise_one_alert_each(watched: Watched) -> None:
    bill_payment = next(
        payment for payment in watched.realm.objects("BillPayment").values() if money(payment["TotalAmt"]) > 0
    )
    paid_bill = bill_payment["Line"][0]["LinkedTxn"][0]["TxnId"]
    customer_payment = next(
        payment
        for payment in watched.realm.objects("Payment").values()
        if money(payment["TotalAmt"]) > 0 and payment.get("Line")
    )
    watched.company.void("BillPayment", bill_payment["Id"])
    watched.delete_in_qbo("Payment", customer_payment["Id"])

    synced_twice_and_checked(watched)

    alerts = {alert["subject"]["type"]: alert for alert in watched.alerts()}
    assert set(alerts) == {"bill_payment", "payment"}
    voided, deleted = alerts["bill_payment"], alerts["payment"]
    assert (voided["kind"], voided["subject"]["id"]) == ("payment_voided", bill_payment["Id"])
    assert money(voided["amount"]) == money(bill_payment["TotalAmt"])  # what QBO zeroed, from the view
    assert "was voided in QuickBooks" in voided["reason"]
    assert f"bill #{paid_bill}" in voided["reason"]
    assert voided["action"] == {"method": "POST", "path": watched.url(f"/bills/{paid_bill}/pay")}
    assert (deleted["kind"], deleted["subject"]["id"]) == ("payment_voided", customer_payment["Id"])
    assert "was deleted in QuickBooks" in deleted["reason"]
    assert deleted["action"] == {"method": "GET", "path": watched.url("/collections")}


def test_our_payment_voided_is_one_alert_whether_the_reconciler_or_a_sync_finds_it_first(watched: Watched) -> None:
    bill = watched.open_bills()[0]
    amount = money(bill["Balance"])
    paid = watched.pay_through_oodaloo(bill["Id"], amount, watched.company.account_id("Bank"))
    watched.sync()  # the view now holds our payment
    watched.company.void("BillPayment", paid["bill_payment_id"])

    async def recheck(worker: Worker) -> None:
        await worker.runtime.sync.reconcile_action(UUID(paid["action_id"]))  # the reconciler's look a minute later

    with_worker(watched.books.settings, recheck)
    # The reconciler's finding makes this business's check due before any sync (an earlier test's business in the
    # module's database may be due as well): the alert below is what that check raised.
    assert watched.sweep() >= 1
    [alert] = watched.alerts()
    assert (alert["kind"], alert["subject"]["id"]) == ("payment_voided", paid["bill_payment_id"])
    assert money(alert["amount"]) == amount

    synced_twice_and_checked(watched)  # the mirror learns of the void too: the same fact
    assert len(watched.alerts()) == 1


# ------------------------------------------------------------------------------------------------------ large bill
def test_a_large_new_bill_raises_one_alert_a_usual_one_none_and_it_resolves_once_removed(watched: Watched) -> None:
    totals = [money(bill["TotalAmt"]) for bill in watched.realm.objects("Bill").values()]
    usual = statistics.median(totals).quantize(Decimal("0.01"))
    large = (max(totals) * 20).quantize(Decimal("0.01"))
    vendor_id = watched.company.vendor_ids()[0]
    big = watched.company.new_bill(str(large), vendor_id)
    watched.company.new_bill(str(usual), vendor_id)

    synced_twice_and_checked(watched)

    [alert] = watched.alerts()
    assert (alert["kind"], alert["subject"]["id"], money(alert["amount"])) == ("large_bill", big["Id"], large)
    assert "the median bill of the last 180 days" in alert["reason"]
    assert alert["action"] == {"method": "PATCH", "path": watched.url(f"/bills/{big['Id']}/plan")}

    watched.delete_in_qbo("Bill", big["Id"])
    watched.sync()
    [resolved] = watched.alerts()
    assert resolved["status"] == "resolved"
    assert resolved["resolution"] == "The bill was removed from QuickBooks."
    assert watched.alerts(status="open") == []


def test_a_large_bill_already_there_at_the_first_sync_is_history_not_news(books: Fleet) -> None:
    business = Watched.connect(books, MORNING.zone)
    totals = [money(bill["TotalAmt"]) for bill in business.realm.objects("Bill").values()]
    business.company.new_bill(str((max(totals) * 20).quantize(Decimal("0.01"))))

    business.sync()  # the first: it records the view
    synced_twice_and_checked(business)

    assert business.alerts() == []


def test_the_large_bill_rule_needs_both_tests_it_can_make() -> None:
    rule = LargeBillRule()
    typical, weekly = Decimal("1000.00"), Decimal("10000.00")
    assert rule.verdict(Decimal("6000.00"), typical, weekly) is not None  # 6x the median, 0.6 of a week
    assert rule.verdict(Decimal("2999.99"), typical, weekly) is None  # under 3x the median
    assert rule.verdict(Decimal("4000.00"), typical, weekly) is None  # 4x the median but 0.4 of a week: not material
    assert rule.verdict(Decimal("4000.00"), None, weekly) is None  # no history: only materiality judges
    assert rule.verdict(Decimal("5000.00"), None, weekly) is not None
    assert rule.verdict(Decimal("3000.00"), typical, None) is not None  # no outflows: only the median judges
    assert rule.verdict(Decimal("99999.00"), None, None) is None  # nothing to judge by


# ---------------------------------------------------------------------------------------------------- invoice paid
def test_a_paid_invoice_raises_one_alert_a_partly_paid_one_none(watched: Watched) -> None:
    paid, partly = watched.open_invoices()[:2]
    payment = watched.receive_in_qbo(paid, money(paid["Balance"]))
    watched.receive_in_qbo(partly, (money(partly["Balance"]) / 2).quantize(Decimal("0.01")))

    synced_twice_and_checked(watched)

    [alert] = watched.alerts()
    assert (alert["kind"], alert["subject"]["id"]) == ("invoice_paid", paid["Id"])
    assert money(alert["amount"]) == money(paid["Balance"])
    # Named by the payment that paid it now, not by the older ones that paid parts of it.
    assert f"settled by Payment {payment.get('DocNumber') or '#' + payment['Id']} of {MORNING.day}. " in alert["reason"]
    assert alert["action"] == {"method": "GET", "path": watched.url("/runway")}


def test_a_sync_whose_check_was_never_asked_for_is_checked_by_the_sweep(watched: Watched) -> None:
    invoice = watched.open_invoices()[0]
    watched.receive_in_qbo(invoice, money(invoice["Balance"]))
    # Synced outside the job (as ``oodaloo sync`` does): nothing asked for the check.
    report = watched.books.with_mirror(lambda mirror, _sessionmaker: mirror.incremental(watched.business_id))
    assert report.outcome.value == "succeeded"
    assert watched.alerts() == []

    assert watched.due_for_a_check()
    assert watched.sweep() >= 1  # this business, and any other of the shared database left unchecked
    assert [alert["kind"] for alert in watched.alerts()] == ["invoice_paid"]
    assert not watched.due_for_a_check()


def test_a_check_that_finds_nothing_new_raises_nothing(watched: Watched) -> None:
    report = watched.check()
    assert (report.raised, report.baseline) == ([], False)
    # The mirror has not moved since the check (an earlier test's business in the module's database may be due).
    assert not watched.due_for_a_check()


def test_alerts_are_kept_per_business(books: Fleet, watched: Watched) -> None:
    other = Watched.connect(books, MORNING.zone)
    other.sync()
    bill = other.open_bills()[0]
    other.plan(bill["Id"], MORNING.day + timedelta(days=2))
    other.pay_bill_in_qbo(bill, money(bill["Balance"]), other.company.account_id("Bank"))
    other.sync()

    assert [alert["kind"] for alert in other.alerts()] == ["bill_paid_elsewhere"]
    assert watched.alerts() == []
