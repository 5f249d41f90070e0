"""The tray's facts, read from a mirror synced over real HTTP: on an empty sandbox company made messy through the
public /v3 API one problem at a time (each found exactly, the look-alikes that are not problems left out), and on the
healthy demo company (the problems it was generated with found, checked against the sandbox's own answers)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.tray_data import TrayData, load_tray_data
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from tests.domains.ar.mirror import synced
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.sandbox.conftest import RunningSandbox
from tests.support.qbo import SandboxCompany

Obj = dict[str, Any]
# Harness.connect's businesses live here.
HARNESS_ZONE = ZoneInfo("America/Los_Angeles")


class Messy:
    """A sandbox company (the ``empty`` scenario unless told) arranged through its public /v3 API: names, invoices,
    payments, bills and expenses that make (or look like, and do not make) the tray's hygiene problems."""

    def __init__(self, company: SandboxCompany, today: date) -> None:
        self.company = company
        self.today = today
        self._accounts: dict[str, str] = {}
        self._names = 0

    @classmethod
    def empty(cls, sandbox: str, today: date) -> Messy:
        created = httpx.post(f"{sandbox}/_sandbox/realms", json={"scenario": "empty"}, timeout=60)
        assert created.status_code == 201, created.text
        return cls(SandboxCompany(sandbox, created.json()["realm_id"]), today)

    def ago(self, days: int) -> str:
        return (self.today - timedelta(days=days)).isoformat()

    def account(self, name: str) -> Obj:
        if name not in self._accounts:
            rows = self.company.query(f"SELECT * FROM Account WHERE Name = '{name}'")
            assert rows, f"no account {name}"
            self._accounts[name] = rows[0]["Id"]
        return {"value": self._accounts[name]}

    def term(self, name: str = "Net 30") -> Obj:
        rows = self.company.query(f"SELECT * FROM Term WHERE Name = '{name}'")
        return {"value": rows[0]["Id"]}

    def _name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix} {self._names} {uuid.uuid4().hex[:4]}"

    # -- names ---------------------------------------------------------------------------------------------------
    def customer(self, *, email: bool = True) -> Obj:
        body: Obj = {"DisplayName": self._name("Client")}
        if email:
            body["PrimaryEmailAddr"] = {"Address": "ap@client.example"}
        return self.company.write("Customer", body)

    def vendor(self, *, terms: bool = True, email: bool = True) -> Obj:
        body: Obj = {"DisplayName": self._name("Vendor")}
        if terms:
            body["TermRef"] = self.term()
        if email:
            body["PrimaryEmailAddr"] = {"Address": "billing@vendor.example"}
        return self.company.write("Vendor", body)

    # -- receivables ---------------------------------------------------------------------------------------------
    def invoice(
        self,
        customer: Obj,
        amount: str,
        *,
        days_ago: int = 5,
        due_in: int = 30,
        status: str = "EmailSent",
    ) -> Obj:
        txn = self.today - timedelta(days=days_ago)
        body: Obj = {
            "CustomerRef": {"value": customer["Id"]},
            "TxnDate": txn.isoformat(),
            "DueDate": (txn + timedelta(days=due_in)).isoformat(),
            "EmailStatus": status,
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}],
        }
        return self.company.write("Invoice", body)

    def payment(
        self, customer: Obj, amount: str, *, days_ago: int, into: str = "Checking", applied_to: Obj | None = None
    ) -> Obj:
        body: Obj = {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": amount,
            "TxnDate": self.ago(days_ago),
            "DepositToAccountRef": self.account(into),
        }
        if applied_to is not None:
            body["Line"] = [{"Amount": amount, "LinkedTxn": [{"TxnId": applied_to["Id"], "TxnType": "Invoice"}]}]
        return self.company.write("Payment", body)

    def apply(self, payment: Obj, invoice: Obj) -> Obj:
        """Apply an unapplied payment to an invoice (its whole amount)."""
        current = self.company.read("Payment", payment["Id"])
        line = {"Amount": current["TotalAmt"], "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
        return self.company.write("Payment", {**current, "Line": [line]})

    def deposit(self, *payments: Obj) -> Obj:
        lines = [
            {"Amount": payment["TotalAmt"], "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]}
            for payment in payments
        ]
        body = {"DepositToAccountRef": self.account("Checking"), "TxnDate": self.ago(0), "Line": lines}
        return self.company.write("Deposit", body)

    def send(self, invoice: Obj) -> None:
        with self.company._api() as api:
            response = api.post(f"/invoice/{invoice['Id']}/send")
        assert response.status_code == 200, response.text

    # -- payables ------------------------------------------------------------------------------------------------
    def bill(
        self,
        vendor: Obj,
        amount: str,
        *,
        days_ago: int = 3,
        due_in: int | None = 30,
        account: str = "Office Supplies",
    ) -> Obj:
        txn = self.today - timedelta(days=days_ago)
        body: Obj = {
            "VendorRef": {"value": vendor["Id"]},
            "TxnDate": txn.isoformat(),
            "Line": [
                {
                    "Amount": amount,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": self.account(account)},
                }
            ],
        }
        if due_in is not None:
            body["DueDate"] = (txn + timedelta(days=due_in)).isoformat()
        return self.company.write("Bill", body)

    def expense(
        self, amount: str, *, days_ago: int, account: str = "Uncategorized Expense", payee: Obj | None = None
    ) -> Obj:
        body: Obj = {
            "PaymentType": "Cash",
            "AccountRef": self.account("Checking"),
            "TxnDate": self.ago(days_ago),
            "Line": [
                {
                    "Amount": amount,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": self.account(account)},
                }
            ],
        }
        if payee is not None:
            body["EntityRef"] = {"value": payee["Id"], "type": "Vendor"}
        return self.company.write("Purchase", body)

    # -- changes -------------------------------------------------------------------------------------------------
    def sparse(self, entity: str, obj: Obj, **fields: Any) -> Obj:
        current = self.company.read(entity, obj["Id"])
        return self.company.write(
            entity, {"Id": obj["Id"], "SyncToken": current["SyncToken"], "sparse": True, **fields}
        )

    def delete(self, entity: str, obj: Obj) -> None:
        current = self.company.read(entity, obj["Id"])
        with self.company._api() as api:
            response = api.post(
                f"/{entity.lower()}",
                params={"operation": "delete"},
                json={"Id": obj["Id"], "SyncToken": current["SyncToken"]},
            )
        assert response.status_code == 200, response.text


def tray_data_of(database_url: str, business_id: uuid.UUID, today: date) -> TrayData:
    async def go() -> TrayData:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                business = await session.get(Business, business_id)
                assert business is not None
                return await load_tray_data(session, business, today)
        finally:
            await database.dispose()

    return asyncio.run(go())


def local_today() -> date:
    return datetime.now(HARNESS_ZONE).date()


def money(value: Any) -> Decimal:
    return Decimal(str(value))


# ---------------------------------------------------------------------------------------------------- an empty company
@pytest.fixture(scope="module")
def messy(sandbox: RunningSandbox, database_url: str) -> tuple[Messy, Harness, dict[str, Obj]]:
    """Every problem once, beside a look-alike that is not one; synced."""
    today = local_today()
    mess = Messy.empty(sandbox.base_url, today)
    client, quiet = mess.customer(), mess.customer(email=False)
    tidy, no_terms, no_email = mess.vendor(), mess.vendor(terms=False), mess.vendor(email=False)
    idle = mess.vendor(terms=False, email=False)  # no bills at all: nobody needs its terms
    by_check = mess.invoice(client, "590.00", days_ago=35)  # paid by three checks, applied to it
    made: dict[str, Obj] = {
        "by_check": by_check,
        "overdue": mess.invoice(client, "1200.00", days_ago=40, due_in=20),
        "current": mess.invoice(client, "800.00", days_ago=2),
        "need_to_send": mess.invoice(client, "450.00", days_ago=1, status="NeedToSend"),
        "not_set_with_email": mess.invoice(client, "300.00", days_ago=1, status="NotSet"),
        "not_set_without_email": mess.invoice(quiet, "200.00", days_ago=1, status="NotSet"),
        "unapplied": mess.payment(client, "500.00", days_ago=12),
        "applied": mess.payment(client, "800.00", days_ago=1),
        "stale_check": mess.payment(client, "350.00", days_ago=20, into="Undeposited Funds", applied_to=by_check),
        "fresh_check": mess.payment(client, "150.00", days_ago=2, into="Undeposited Funds", applied_to=by_check),
        "deposited_check": mess.payment(client, "90.00", days_ago=30, into="Undeposited Funds", applied_to=by_check),
        "uncategorized": mess.expense("75.40", days_ago=10, payee=tidy),
        "old_uncategorized": mess.expense("60.00", days_ago=400),
        "categorized": mess.expense("40.00", days_ago=10, account="Meals"),
        "uncategorized_bill": mess.bill(tidy, "210.00", account="Uncategorized Expense"),
        "due_soon": mess.bill(tidy, "640.00", days_ago=25, due_in=28),
        "no_due_date": mess.bill(no_terms, "330.00", due_in=None),
        "vendor_terms_due": mess.bill(tidy, "99.00", due_in=None),  # no DueDate given: the vendor's Net 30 sets it
        "original": mess.bill(no_email, "1875.00", days_ago=9),
        "copy": mess.bill(no_email, "1875.00", days_ago=7),
        "same_amount_later": mess.bill(tidy, "1875.00", days_ago=30),
    }
    # The "applied" payment is applied to the current invoice afterwards (as a person would match it).
    made["applied"] = mess.apply(made["applied"], made["current"])
    mess.deposit(made["deposited_check"])
    made.update({"client": client, "quiet": quiet, "no_terms": no_terms, "no_email": no_email, "idle": idle})
    harness = synced(database_url, Realm(sandbox.base_url, mess.company.realm_id))
    return mess, harness, made


def test_overdue_invoices_and_bills_due_this_week(
    messy: tuple[Messy, Harness, dict[str, Obj]], database_url: str
) -> None:
    mess, harness, made = messy
    data = tray_data_of(database_url, harness.business_id, mess.today)

    assert [invoice.invoice_id for invoice in data.overdue_invoices] == [made["overdue"]["Id"]]
    overdue = data.overdue_invoices[0]
    assert (overdue.balance, overdue.days_overdue) == (Decimal("1200.00"), 20)
    assert overdue.customer_name == made["client"]["DisplayName"]
    # Due in 3 days; due today (dated 30 days ago, Net 30); and QuickBooks made due on its bill date, 3 days ago.
    due = {bill.bill_id: bill for bill in data.bills_due}
    assert set(due) == {made["due_soon"]["Id"], made["same_amount_later"]["Id"], made["no_due_date"]["Id"]}
    assert due[made["same_amount_later"]["Id"]].days_until_due == 0
    assert due[made["due_soon"]["Id"]].days_until_due == 3
    assert due[made["no_due_date"]["Id"]].days_until_due == -3


def test_each_hygiene_problem_is_found_and_its_look_alikes_are_not(
    messy: tuple[Messy, Harness, dict[str, Obj]], database_url: str
) -> None:
    mess, harness, made = messy
    facts = tray_data_of(database_url, harness.business_id, mess.today).hygiene

    assert [(item.entity, item.txn_id, item.amount) for item in facts.uncategorized] == [
        ("Bill", made["uncategorized_bill"]["Id"], Decimal("210.00")),
        ("Purchase", made["uncategorized"]["Id"], Decimal("75.40")),
    ]
    assert facts.uncategorized[0].account_name == "Uncategorized Expense"

    assert [(p.payment_id, p.unapplied) for p in facts.unapplied_payments] == [
        (made["unapplied"]["Id"], Decimal("500.00"))
    ]

    undeposited = facts.undeposited
    assert undeposited.balance == Decimal("500.00")  # QBO's own balance: 350 + 150 (the 90 went to the bank)
    assert [(item.txn_id, item.days_waiting) for item in undeposited.items] == [
        (made["stale_check"]["Id"], 20),
        (made["fresh_check"]["Id"], 2),
    ]
    assert undeposited.oldest_days == 20

    assert [bill.bill_id for bill in facts.bills_without_due_date] == [made["no_due_date"]["Id"]]

    assert {(invoice.invoice_id, invoice.email_status) for invoice in facts.unsent_invoices} == {
        (made["need_to_send"]["Id"], "NeedToSend"),
        (made["not_set_with_email"]["Id"], "NotSet"),
    }

    missing = {vendor.vendor_id: (vendor.missing_terms, vendor.missing_email) for vendor in facts.vendors_missing_info}
    assert missing == {made["no_terms"]["Id"]: (True, False), made["no_email"]["Id"]: (False, True)}

    assert [(pair.original_id, pair.duplicate_id, pair.amount) for pair in facts.duplicate_bills] == [
        (made["original"]["Id"], made["copy"]["Id"], Decimal("1875.00"))
    ]
    assert facts.duplicate_bills[0].duplicate_balance == Decimal("1875.00")


# ----------------------------------------------------------------------------------------------- the demo company
@pytest.fixture(scope="module")
def demo(sandbox: RunningSandbox, database_url: str) -> tuple[Realm, Harness]:
    realm = Realm.create(sandbox.base_url, scenario="healthy")
    return realm, synced(database_url, realm)


def test_the_demo_companys_problems_are_the_ones_qbo_shows(demo: tuple[Realm, Harness], database_url: str) -> None:
    realm, harness = demo
    today = local_today()
    facts = tray_data_of(database_url, harness.business_id, today).hygiene
    accounts = realm.objects("Account")
    by_name = {account["Name"]: account for account in accounts.values()}
    purchases = realm.objects("Purchase").values()
    payments = realm.objects("Payment")
    invoices = realm.objects("Invoice").values()
    deposits = realm.objects("Deposit").values()

    uncategorized_id = by_name["Uncategorized Expense"]["Id"]
    expected_uncategorized = {
        purchase["Id"]
        for purchase in purchases
        if purchase["TxnDate"] >= (today - timedelta(days=365)).isoformat()
        and any(
            line.get("AccountBasedExpenseLineDetail", {}).get("AccountRef", {}).get("value") == uncategorized_id
            for line in purchase["Line"]
        )
    }
    assert {item.txn_id for item in facts.uncategorized if item.entity == "Purchase"} == expected_uncategorized
    assert len(expected_uncategorized) >= 3  # the demo's unclassified card and bank lines

    expected_unapplied = {pid for pid, payment in payments.items() if money(payment.get("UnappliedAmt", 0)) > 0}
    assert {payment.payment_id for payment in facts.unapplied_payments} == expected_unapplied
    assert expected_unapplied

    undeposited_id = by_name["Undeposited Funds"]["Id"]
    linked = {link["TxnId"] for deposit in deposits for line in deposit["Line"] for link in line.get("LinkedTxn", [])}
    waiting = {
        pid
        for pid, payment in payments.items()
        # A zero payment (a credit memo applied to an invoice) brings no money to deposit.
        if payment["DepositToAccountRef"]["value"] == undeposited_id
        and pid not in linked
        and money(payment["TotalAmt"])
    }
    assert {item.txn_id for item in facts.undeposited.items} == waiting
    assert facts.undeposited.balance == money(by_name["Undeposited Funds"]["CurrentBalance"])
    assert facts.undeposited.oldest_days is not None
    assert facts.undeposited.oldest_days >= 30  # the forgotten checks

    need_to_send = {
        invoice["Id"]
        for invoice in invoices
        if invoice["EmailStatus"] == "NeedToSend" and money(invoice["Balance"]) > 0
    }
    assert need_to_send
    assert need_to_send <= {invoice.invoice_id for invoice in facts.unsent_invoices}

    bills = realm.objects("Bill")
    copies = {pair.duplicate_id for pair in facts.duplicate_bills}
    assert any(str(bills[bill_id].get("DocNumber", "")).endswith("-A") for bill_id in copies)

    vendors = realm.objects("Vendor")
    for vendor in facts.vendors_missing_info:
        raw = vendors[vendor.vendor_id]
        assert vendor.missing_terms == ("TermRef" not in raw)
        assert vendor.missing_email == ("PrimaryEmailAddr" not in raw)
    assert any(vendor.missing_terms for vendor in facts.vendors_missing_info)
    assert any(vendor.missing_email for vendor in facts.vendors_missing_info)
