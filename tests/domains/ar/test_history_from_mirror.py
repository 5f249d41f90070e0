"""Loading receivables from a mirror synced over real HTTP from the sandbox: partial payments, credit memos applied
through a payment, payments of several invoices at once, voided and deleted transactions, as QBO records them; and a
demo company's whole history loaded in a handful of queries, agreeing with QBO's own balances."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from oodaloo.domains.qbo.mirror_models import MirroredInvoice
from oodaloo.sandbox.config import SandboxConfig
from tests.domains.ar.mirror import execute, load, synced
from tests.domains.qbo.mirror_support import Realm
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.support.clock import Instant, at

# The demo books run up to the day the realm is made: a fixed day keeps them the same from run to run.
INSTANT = Instant("America/Los_Angeles", time(10, 0))
ZONE = ZoneInfo("America/Los_Angeles")  # the zone of the businesses mirror_support makes


@pytest.fixture(scope="module")
def frozen_clock() -> Iterator[Instant]:
    with at(INSTANT) as instant:
        yield instant


@pytest.fixture(scope="module")
def sandbox_config(frozen_clock: Instant) -> SandboxConfig:
    return make_config()


def today() -> date:
    return datetime.now(ZONE).date()


def money(value: Any) -> Decimal:
    return Decimal(str(value))


class Books:
    """Writes to one sandbox realm through its v3 API, as QBO's own users would."""

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.customer_id = next(iter(realm.objects("Customer")))
        self.item_id = next(item_id for item_id, item in realm.objects("Item").items() if item.get("Type") == "Service")

    def write(self, entity: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        response = self.realm.post(f"/{entity.lower()}", body, **params)
        assert response.status_code == 200, response.text
        written: dict[str, Any] = response.json()[entity]
        return written

    def sale(self, entity: str, amount: str, on: date, terms: int = 30) -> str:
        body: dict[str, Any] = {
            "CustomerRef": {"value": self.customer_id},
            "TxnDate": on.isoformat(),
            "Line": [
                {
                    "Amount": amount,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": self.item_id}},
                }
            ],
        }
        if entity == "Invoice":
            body["DueDate"] = (on + timedelta(days=terms)).isoformat()
        return str(self.write(entity, body)["Id"])

    def payment(self, on: date, total: str, *lines: tuple[str, str, str]) -> str:
        """A Payment of ``total`` with a line per (TxnType, TxnId, amount)."""
        body = {
            "CustomerRef": {"value": self.customer_id},
            "TotalAmt": total,
            "TxnDate": on.isoformat(),
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]}
                for txn_type, txn_id, amount in lines
            ],
        }
        return str(self.write("Payment", body)["Id"])

    def sync_token(self, entity: str, txn_id: str) -> str:
        with self.realm.api() as api:
            response = api.get(f"/{entity.lower()}/{txn_id}")
        assert response.status_code == 200, response.text
        token: str = response.json()[entity]["SyncToken"]
        return token

    def void(self, entity: str, txn_id: str) -> None:
        token = self.sync_token(entity, txn_id)
        self.write(entity, {"Id": txn_id, "SyncToken": token, "sparse": True}, operation="update", include="void")

    def delete(self, entity: str, txn_id: str) -> None:
        self.write(entity, {"Id": txn_id, "SyncToken": self.sync_token(entity, txn_id)}, operation="delete")


def test_settlements_are_read_as_qbo_records_them(sandbox: RunningSandbox, database_url: str) -> None:
    books = Books(Realm.create(sandbox.base_url))
    d0 = today() - timedelta(days=90)
    d1, d2, d3 = d0 + timedelta(days=20), d0 + timedelta(days=35), d0 + timedelta(days=50)
    in_parts = books.sale("Invoice", "900.00", d0)
    books.payment(d1, "300.00", ("Invoice", in_parts, "300.00"))
    books.payment(d2, "600.00", ("Invoice", in_parts, "600.00"))
    credited = books.sale("Invoice", "1000.00", d0)
    memo = books.sale("CreditMemo", "250.00", d1)
    books.payment(d3, "0.00", ("Invoice", credited, "250.00"), ("CreditMemo", memo, "250.00"))
    payment_voided = books.sale("Invoice", "500.00", d0)
    books.void("Payment", books.payment(d2, "500.00", ("Invoice", payment_voided, "500.00")))
    payment_deleted = books.sale("Invoice", "800.00", d0)
    books.delete("Payment", books.payment(d2, "800.00", ("Invoice", payment_deleted, "800.00")))
    voided = books.sale("Invoice", "400.00", d0)
    books.void("Invoice", voided)
    deleted = books.sale("Invoice", "450.00", d0)
    books.delete("Invoice", deleted)
    first, second = books.sale("Invoice", "100.00", d1), books.sale("Invoice", "200.00", d1)
    books.payment(d3, "350.00", ("Invoice", first, "100.00"), ("Invoice", second, "200.00"))  # 50.00 unapplied

    history = load(database_url, synced(database_url, books.realm).business_id).receivables

    paid_in_parts = history.by_id[in_parts]
    assert [(s.day, s.amount, s.cash) for s in paid_in_parts.settlements] == [
        (d1, Decimal("300.00"), Decimal("300.00")),
        (d2, Decimal("600.00"), Decimal("600.00")),
    ]
    assert paid_in_parts.settled_on == d2
    assert paid_in_parts.due_date == d0 + timedelta(days=30)
    open_after_first_part = {invoice.invoice_id: invoice for invoice in history.open_as_of(d1)}
    assert open_after_first_part[in_parts].balance == Decimal("600.00")
    # A credit memo settles its part on the date of the payment that applied it, and brings in no cash.
    [credit] = history.by_id[credited].settlements
    assert (credit.day, credit.amount, credit.credit, credit.cash) == (
        d3,
        Decimal("250.00"),
        Decimal("250.00"),
        Decimal(0),
    )
    open_today = {invoice.invoice_id: invoice for invoice in history.open_as_of(today())}
    assert open_today[credited].balance == Decimal("750.00")
    # A voided or deleted payment never happened; a voided or deleted invoice is not there.
    assert open_today[payment_voided].balance == Decimal("500.00")
    assert history.by_id[payment_voided].settlements == ()
    assert open_today[payment_deleted].balance == Decimal("800.00")
    assert voided not in history.by_id
    assert deleted not in history.by_id
    # One payment for two invoices settles each by its line.
    assert (history.by_id[first].settled_on, history.by_id[second].settled_on) == (d3, d3)
    # Every balance as QBO states it.
    for invoice_id, invoice in books.realm.objects("Invoice").items():
        if invoice_id in history.by_id:
            assert history.by_id[invoice_id].balance_as_of(today()) == money(invoice["Balance"]), invoice_id


@pytest.mark.parametrize("scenario", ["healthy", "crisis"])
def test_a_demo_company_loads_in_a_few_queries_with_qbo_s_open_balances(
    sandbox: RunningSandbox, database_url: str, scenario: str
) -> None:
    realm = Realm.create(sandbox.base_url, scenario=scenario)
    harness = synced(database_url, realm)

    loaded = load(database_url, harness.business_id)

    # Five statements (time zone, customers, credit memos, invoices, payments) whatever the company's size.
    assert 4 <= loaded.statements <= 5
    invoices = realm.objects("Invoice")
    owed = {
        invoice_id: money(invoice["Balance"])
        for invoice_id, invoice in invoices.items()
        if money(invoice["Balance"]) > 0
    }
    open_today = {invoice.invoice_id: invoice.balance for invoice in loaded.receivables.open_as_of(today())}
    assert open_today == owed
    assert owed  # nothing compared equal by being empty
    settled = [invoice for invoice in loaded.receivables.invoices if invoice.settled_on is not None]
    assert len(settled) > len(owed)
    for invoice in settled:
        assert invoice.settled_on is not None
        assert invoice.txn_date <= invoice.settled_on <= today()
        assert (
            sum(s.amount for s in invoice.settlements)
            == invoice.total
            == money(invoices[invoice.invoice_id]["TotalAmt"])
        )
    names = {customer_id: customer["DisplayName"] for customer_id, customer in realm.objects("Customer").items()}
    assert all(invoice.customer_name == names[invoice.customer_id] for invoice in loaded.receivables.invoices)


def test_an_invoice_qbo_shows_paid_with_no_payment_in_the_mirror_is_settled_when_qbo_last_changed_it(
    sandbox: RunningSandbox, database_url: str
) -> None:
    harness = synced(database_url, Realm.create(sandbox.base_url))
    history = load(database_url, harness.business_id).receivables
    owed = max(history.open_as_of(today()), key=lambda invoice: invoice.balance)
    changed_at = datetime.now(ZONE) - timedelta(days=3)
    execute(
        database_url,
        update(MirroredInvoice)
        .where(MirroredInvoice.business_id == harness.business_id, MirroredInvoice.qbo_id == owed.invoice_id)
        .values(balance=Decimal(0), qbo_updated_at=changed_at),
    )

    reloaded = load(database_url, harness.business_id).receivables

    assert owed.invoice_id not in {invoice.invoice_id for invoice in reloaded.open_as_of(today())}
    settled_on = reloaded.by_id[owed.invoice_id].settled_on
    assert settled_on == max(changed_at.date(), owed.txn_date)
    assert owed.invoice_id in {invoice.invoice_id for invoice in reloaded.open_as_of(settled_on - timedelta(days=1))}
