"""Third-party QBO libraries, unmodified, against the sandbox: intuit-oauth for OAuth, python-quickbooks for data.

Both are only pointed at the sandbox's base URL (the discovery document for OAuth, the API base for data).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.account import Account
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.bill import Bill
from quickbooks.objects.billpayment import BillPayment, BillPaymentLine, CheckPayment
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import (
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.journalentry import Entity, JournalEntry, JournalEntryLine, JournalEntryLineDetail
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.salesreceipt import SalesReceipt
from quickbooks.objects.transfer import Transfer
from quickbooks.objects.vendor import Vendor
from quickbooks.objects.vendorcredit import VendorCredit

from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, LimitsConfig, SandboxConfig
from tests.support.servers import serve

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"  # loopback; never contacted, the redirect is read, not followed
PAGE = 1000


@dataclass
class Connected:
    base_url: str
    auth: AuthClient
    qb: QuickBooks
    realm_id: str


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    # requests-oauthlib refuses plain http unless told it is local; the sandbox serves loopback http.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        with serve(create_sandbox_app(SandboxConfig(size=4500))) as url:
            yield url


def _authorize(sandbox_url: str) -> tuple[AuthClient, str]:
    auth = AuthClient(
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        REDIRECT_URI,
        environment=f"{sandbox_url}/.well-known/openid_configuration",
    )
    url = auth.get_authorization_url([Scopes.ACCOUNTING, Scopes.OPENID, Scopes.EMAIL])
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    params = parse_qs(location.query)
    assert params["state"] == [auth.state_token]
    auth.get_bearer_token(params["code"][0], realm_id=params["realmId"][0])
    return auth, params["realmId"][0]


@pytest.fixture(scope="module")
def connected(sandbox_url: str) -> Connected:
    auth, realm_id = _authorize(sandbox_url)
    qb = QuickBooks(auth_client=auth, refresh_token=auth.refresh_token, company_id=realm_id, minorversion=75)
    # The only change a client needs: its base URL.
    qb.api_url_v3 = qb.sandbox_api_url_v3 = f"{sandbox_url}/v3"
    return Connected(sandbox_url, auth, qb, realm_id)


def test_oauth_dance_gives_tokens_and_a_valid_id_token(sandbox_url: str) -> None:
    auth, realm_id = _authorize(sandbox_url)
    assert auth.access_token
    assert auth.refresh_token
    assert auth.realm_id == realm_id
    assert auth.x_refresh_token_expires_in > 0
    assert auth.id_token, "openid scope was granted, so an id_token is expected"
    from intuitlib.utils import validate_id_token

    assert validate_id_token(auth.id_token, auth.client_id, auth.issuer_uri, auth.jwks_uri)


def test_refresh_then_revoke(sandbox_url: str) -> None:
    auth, _ = _authorize(sandbox_url)
    first_access = auth.access_token
    auth.refresh()
    assert auth.access_token != first_access
    assert auth.revoke()


def test_pages_through_all_invoices_at_the_maximum_page_size(connected: Connected) -> None:
    total = Invoice.count("", qb=connected.qb)
    assert total > PAGE, "the fixture realm must need more than one page"
    seen: list[str] = []
    start = 1
    while True:
        page = Invoice.query(f"SELECT * FROM Invoice STARTPOSITION {start} MAXRESULTS {PAGE}", qb=connected.qb)
        seen.extend(str(invoice.Id) for invoice in page)
        if len(page) < PAGE:
            break
        start += len(page)
    assert len(seen) == total == len(set(seen))


def test_creates_a_bill_payment_that_pays_an_open_bill(connected: Connected) -> None:
    qb = connected.qb
    bill = Bill.where("Balance > '0'", order_by="Id", max_results=1, qb=qb)[0]
    checking = Account.where("AccountType = 'Bank'", max_results=1, qb=qb)[0]
    amount = Decimal(str(bill.Balance))

    payment = BillPayment()
    payment.PayType = "Check"
    payment.TotalAmt = float(amount)
    payment.VendorRef = bill.VendorRef
    check = CheckPayment()
    bank = Ref()
    bank.value = checking.Id
    check.BankAccountRef = bank
    payment.CheckPayment = check
    line = BillPaymentLine()
    line.Amount = float(amount)
    linked = LinkedTxn()
    linked.TxnId = bill.Id
    linked.TxnType = "Bill"
    line.LinkedTxn.append(linked)
    payment.Line.append(line)
    payment.save(qb=qb)

    assert payment.Id
    paid = Bill.get(bill.Id, qb=qb)
    assert Decimal(str(paid.Balance)) == 0
    assert any(str(t.TxnId) == str(payment.Id) for t in paid.LinkedTxn)


def test_change_data_capture_sees_a_new_vendor(connected: Connected) -> None:
    # python-quickbooks sends changedSince without an offset: the company's local time.
    since = datetime.now(ZoneInfo(SandboxConfig().timezone)) - timedelta(minutes=5)
    vendor = Vendor()
    vendor.DisplayName = f"CDC Probe {datetime.now(UTC).timestamp()}"
    vendor.save(qb=connected.qb)

    changes = change_data_capture([Vendor, Bill], since, qb=connected.qb)
    vendors = [str(v.Id) for v in changes.Vendor]
    assert str(vendor.Id) in vendors


def test_batch_creates_vendors_and_reports_each_result(connected: Connected) -> None:
    stamp = int(datetime.now(UTC).timestamp() * 1000)
    vendors = []
    for n in range(3):
        vendor = Vendor()
        vendor.DisplayName = f"Batch Vendor {stamp}-{n}"
        vendors.append(vendor)
    duplicate = Vendor()
    duplicate.DisplayName = vendors[0].DisplayName
    vendors.append(duplicate)

    # python-quickbooks does not retry a 429, so let the one-second window of the calls before this test pass first
    # (the batch itself is one request of QBO's ten a second, whatever its number of items).
    time.sleep(1.1)
    result = batch_create(vendors, qb=connected.qb)

    assert len(result.successes) == 4 - len(result.faults)
    assert len(result.successes) >= 3
    created = {v.DisplayName for v in result.successes}
    assert {v.DisplayName for v in vendors[:3]} <= created


def test_invoice_with_the_librarys_default_sales_line_and_a_not_equal_query(connected: Connected) -> None:
    # Last in the module: the batch test before it waited out the one-second window, and these are five calls.
    qb = connected.qb
    customer = Customer.all(max_results=1, qb=qb)[0]
    item = Item.all(max_results=1, qb=qb)[0]
    line = SalesItemLine()  # its detail defaults Qty and UnitPrice to 0: only the Amount is meant
    line.Amount = 125.5
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = item.to_ref()
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line.append(line)
    invoice.save(qb=qb)

    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).TotalAmt)) == Decimal("125.50")
    still_open = Invoice.where(f"Id = '{invoice.Id}' AND Balance != '0'", qb=qb)
    assert [str(found.Id) for found in still_open] == [str(invoice.Id)]


# -- credits, cash sales, transfers and journal entries, built from the library's own objects ------------------------
# A separate, unthrottled sandbox: python-quickbooks does not retry a 429, and these tests make a few calls each.


@pytest.fixture(scope="module")
def unthrottled(sandbox_url: str) -> Iterator[Connected]:  # sandbox_url: its OAUTHLIB_INSECURE_TRANSPORT setting
    with serve(create_sandbox_app(SandboxConfig(limits=LimitsConfig(enabled=False)))) as url:
        auth, realm_id = _authorize(url)
        qb = QuickBooks(auth_client=auth, refresh_token=auth.refresh_token, company_id=realm_id, minorversion=75)
        qb.api_url_v3 = qb.sandbox_api_url_v3 = f"{url}/v3"
        yield Connected(url, auth, qb, realm_id)


def _account(qb: QuickBooks, name: str) -> Account:
    found: Account = Account.where(f"Name = '{name}'", qb=qb)[0]
    return found


def _sales_line(qb: QuickBooks, amount: float) -> SalesItemLine:
    line = SalesItemLine()
    line.Amount = amount
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Item.where("Name = 'Consulting'", qb=qb)[0].to_ref()
    return line


def _expense_line(account: Account, amount: float) -> AccountBasedExpenseLine:
    line = AccountBasedExpenseLine()
    line.Amount = amount
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = account.to_ref()
    return line


def _link(txn_id: str, txn_type: str, amount: float) -> PaymentLine:
    line = PaymentLine()
    line.Amount = amount
    linked = LinkedTxn()
    linked.TxnId = txn_id
    linked.TxnType = txn_type
    line.LinkedTxn.append(linked)
    return line


def test_a_credit_memo_is_created_read_and_applied_with_a_payment(unthrottled: Connected) -> None:
    qb = unthrottled.qb
    customer = Customer()
    customer.DisplayName = f"PQB Credit Client {datetime.now(UTC).timestamp()}"
    customer.save(qb=qb)
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line.append(_sales_line(qb, 400.0))
    invoice.save(qb=qb)
    memo = CreditMemo()
    memo.CustomerRef = customer.to_ref()
    memo.Line.append(_sales_line(qb, 100.0))
    memo.save(qb=qb)

    read = CreditMemo.get(memo.Id, qb=qb)
    assert Decimal(str(read.RemainingCredit)) == Decimal("100.00")
    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = 300.0
    payment.Line = [_link(invoice.Id, "Invoice", 400.0), _link(memo.Id, "CreditMemo", 100.0)]
    payment.save(qb=qb)

    assert Decimal(str(CreditMemo.get(memo.Id, qb=qb).RemainingCredit)) == 0
    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).Balance)) == 0
    assert Decimal(str(Customer.get(customer.Id, qb=qb).Balance)) == 0


def test_a_vendor_credit_is_created_read_and_applied_with_a_bill_payment(unthrottled: Connected) -> None:
    qb = unthrottled.qb
    vendor = Vendor()
    vendor.DisplayName = f"PQB Credit Vendor {datetime.now(UTC).timestamp()}"
    vendor.save(qb=qb)
    supplies = _account(qb, "Office Supplies")
    bill = Bill()
    bill.VendorRef = vendor.to_ref()
    bill.Line.append(_expense_line(supplies, 250.0))
    bill.save(qb=qb)
    credit = VendorCredit()
    credit.VendorRef = vendor.to_ref()
    credit.Line.append(_expense_line(supplies, 50.0))
    credit.save(qb=qb)
    assert Decimal(str(VendorCredit.get(credit.Id, qb=qb).TotalAmt)) == Decimal("50.00")

    payment = BillPayment()
    payment.PayType = "Check"
    payment.TotalAmt = 200.0
    payment.VendorRef = vendor.to_ref()
    payment.CheckPayment = CheckPayment()
    payment.CheckPayment.BankAccountRef = _account(qb, "Checking").to_ref()
    for txn_id, txn_type, amount in ((bill.Id, "Bill", 250.0), (credit.Id, "VendorCredit", 50.0)):
        line = BillPaymentLine()
        line.Amount = amount
        linked = LinkedTxn()
        linked.TxnId = txn_id
        linked.TxnType = txn_type
        line.LinkedTxn.append(linked)
        payment.Line.append(line)
    payment.save(qb=qb)

    assert Decimal(str(Bill.get(bill.Id, qb=qb).Balance)) == 0
    assert Decimal(str(Vendor.get(vendor.Id, qb=qb).Balance)) == 0


def test_a_sales_receipt_is_created_read_and_voided(unthrottled: Connected) -> None:
    qb = unthrottled.qb
    checking = _account(qb, "Checking")
    before = Decimal(str(checking.CurrentBalance))
    receipt = SalesReceipt()
    receipt.DepositToAccountRef = checking.to_ref()
    receipt.Line.append(_sales_line(qb, 225.0))
    receipt.save(qb=qb)

    read = SalesReceipt.get(receipt.Id, qb=qb)
    assert Decimal(str(read.TotalAmt)) == Decimal("225.00")
    assert Decimal(str(_account(qb, "Checking").CurrentBalance)) == before + Decimal("225.00")
    read.void(qb=qb)
    assert Decimal(str(SalesReceipt.get(receipt.Id, qb=qb).TotalAmt)) == 0
    assert Decimal(str(_account(qb, "Checking").CurrentBalance)) == before


def test_a_transfer_is_created_read_and_deleted(unthrottled: Connected) -> None:
    qb = unthrottled.qb
    transfer = Transfer()
    transfer.FromAccountRef = _account(qb, "Checking").to_ref()
    transfer.ToAccountRef = _account(qb, "Savings").to_ref()
    transfer.Amount = 150.0
    transfer.PrivateNote = "Owner transfer"
    transfer.save(qb=qb)

    read = Transfer.get(transfer.Id, qb=qb)
    assert Decimal(str(read.Amount)) == Decimal("150.00")
    assert read.ToAccountRef.name == "Savings"
    read.delete(qb=qb)
    assert Transfer.filter(Id=transfer.Id, qb=qb) == []


def test_a_journal_entry_is_created_and_read_and_an_unbalanced_one_refused(unthrottled: Connected) -> None:
    qb = unthrottled.qb
    customer = Customer.all(max_results=1, qb=qb)[0]

    def line(posting: str, account: str, amount: float, party: Customer | None = None) -> JournalEntryLine:
        entry_line = JournalEntryLine()
        entry_line.Amount = amount
        entry_line.JournalEntryLineDetail = JournalEntryLineDetail()
        entry_line.JournalEntryLineDetail.PostingType = posting
        entry_line.JournalEntryLineDetail.AccountRef = _account(qb, account).to_ref()
        if party is not None:
            entry_line.JournalEntryLineDetail.Entity = Entity()
            entry_line.JournalEntryLineDetail.Entity.Type = "Customer"
            entry_line.JournalEntryLineDetail.Entity.EntityRef = party.to_ref()
        return entry_line

    entry = JournalEntry()
    entry.Line = [
        line("Debit", "Accounts Receivable (A/R)", 80.0, customer),
        line("Credit", "Consulting Income", 80.0),
    ]
    entry.save(qb=qb)
    read = JournalEntry.get(entry.Id, qb=qb)
    assert Decimal(str(read.TotalAmt)) == Decimal("80.00")
    assert read.Line[0].JournalEntryLineDetail.Entity.EntityRef.value == customer.Id

    unbalanced = JournalEntry()
    unbalanced.Line = [line("Debit", "Rent", 80.0), line("Credit", "Checking", 70.0)]
    with pytest.raises(QuickbooksException) as refused:
        unbalanced.save(qb=qb)
    assert refused.value.error_code == 6000
