"""VendorCredit, CreditMemo, SalesReceipt, Transfer and JournalEntry over real HTTP: balances they move, credits
applied through Payment and BillPayment lines, refused unbalanced entries, void and delete, query and CDC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import RunningSandbox


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json(parse_float=Decimal)
    return body


def _fault(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    assert error["code"] == code, error
    return error


class Books:
    """A fresh empty company, a customer, a vendor and their account ids; reads balances as Decimals."""

    def __init__(self, qbo: httpx.Client) -> None:
        self.qbo = qbo
        accounts = _ok(qbo.get("/query", params={"query": "select * from Account maxresults 1000"}))
        self.accounts = {a["Name"]: a["Id"] for a in accounts["QueryResponse"]["Account"]}
        self.customer = self.create("Customer", {"DisplayName": "Credit Test Clinic"})["Id"]
        self.vendor = self.create("Vendor", {"DisplayName": "Credit Test Supplies"})["Id"]
        items = _ok(qbo.get("/query", params={"query": "select * from Item where Name = 'Consulting'"}))
        self.item = items["QueryResponse"]["Item"][0]["Id"]

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = _ok(self.qbo.post(f"/{entity.lower()}", json=body))[entity]
        return obj

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        obj: dict[str, Any] = _ok(self.qbo.get(f"/{entity.lower()}/{entity_id}"))[entity]
        return obj

    def balance(self, account: str) -> Decimal:
        return Decimal(str(self.read("Account", self.accounts[account])["CurrentBalance"]))

    def name_balance(self, entity: str, entity_id: str) -> Decimal:
        return Decimal(str(self.read(entity, entity_id)["Balance"]))

    def sales_line(self, amount: str) -> dict[str, Any]:
        return {
            "Amount": amount,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": self.item}},
        }

    def expense_line(self, amount: str, account: str = "Office Supplies") -> dict[str, Any]:
        return {
            "Amount": amount,
            "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": self.accounts[account]}},
        }

    def invoice(self, amount: str) -> dict[str, Any]:
        return self.create("Invoice", {"CustomerRef": {"value": self.customer}, "Line": [self.sales_line(amount)]})

    def credit_memo(self, amount: str) -> dict[str, Any]:
        return self.create("CreditMemo", {"CustomerRef": {"value": self.customer}, "Line": [self.sales_line(amount)]})

    def bill(self, amount: str) -> dict[str, Any]:
        return self.create("Bill", {"VendorRef": {"value": self.vendor}, "Line": [self.expense_line(amount)]})

    def vendor_credit(self, amount: str) -> dict[str, Any]:
        return self.create("VendorCredit", {"VendorRef": {"value": self.vendor}, "Line": [self.expense_line(amount)]})

    def journal_line(self, posting: str, account: str, amount: str, party: tuple[str, str] | None = None) -> Any:
        detail: dict[str, Any] = {"PostingType": posting, "AccountRef": {"value": self.accounts[account]}}
        if party is not None:
            detail["Entity"] = {"Type": party[0], "EntityRef": {"value": party[1]}}
        return {"Amount": amount, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": detail}


@pytest.fixture(scope="module")
def books(sandbox: RunningSandbox) -> Books:
    created = sandbox.admin().post("/_sandbox/realms", json={"scenario": "empty"})
    assert created.status_code == 201, created.text
    return Books(sandbox.client(created.json()["realm_id"]))


def test_a_credit_memo_reduces_receivables_and_is_applied_through_a_payment(books: Books) -> None:
    ar_before = books.balance("Accounts Receivable (A/R)")
    invoice = books.invoice("500.00")
    memo = books.credit_memo("120.00")
    assert memo["TotalAmt"] == memo["RemainingCredit"] == memo["Balance"] == Decimal("120.00")
    assert memo["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert books.balance("Accounts Receivable (A/R)") == ar_before + Decimal("380.00")
    assert books.name_balance("Customer", books.customer) == Decimal("380.00")

    payment = books.create(
        "Payment",
        {
            "CustomerRef": {"value": books.customer},
            "TotalAmt": "380.00",
            "Line": [
                {"Amount": "500.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
                {"Amount": "120.00", "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
            ],
        },
    )
    assert payment["UnappliedAmt"] == Decimal("0.00")
    assert books.read("Invoice", invoice["Id"])["Balance"] == Decimal("0.00")
    used = books.read("CreditMemo", memo["Id"])
    assert used["RemainingCredit"] == used["Balance"] == Decimal("0.00")
    assert used["SyncToken"] == "1"
    assert used["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert books.name_balance("Customer", books.customer) == Decimal("0.00")
    assert books.balance("Accounts Receivable (A/R)") == ar_before

    # An applied credit can't be deleted; deleting the payment gives the credit back.
    _fault(books.qbo.post("/creditmemo?operation=delete", json={"Id": memo["Id"], "SyncToken": "1"}), "6000")
    books.qbo.post("/payment?operation=delete", json={"Id": payment["Id"], "SyncToken": "0"}).raise_for_status()
    restored = books.read("CreditMemo", memo["Id"])
    assert restored["RemainingCredit"] == Decimal("120.00")
    assert "LinkedTxn" not in restored


def test_a_credit_can_not_be_applied_beyond_what_remains(books: Books) -> None:
    invoice = books.invoice("50.00")
    memo = books.credit_memo("30.00")
    too_much = {
        "CustomerRef": {"value": books.customer},
        "TotalAmt": "0",
        "Line": [
            {"Amount": "40.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
            {"Amount": "40.00", "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
        ],
    }
    _fault(books.qbo.post("/payment", json=too_much), "6000")
    assert books.read("CreditMemo", memo["Id"])["RemainingCredit"] == Decimal("30.00")


def test_a_vendor_credit_reduces_payables_and_is_applied_through_a_bill_payment(books: Books) -> None:
    ap_before = books.balance("Accounts Payable (A/P)")
    checking_before = books.balance("Checking")
    bill = books.bill("300.00")
    credit = books.vendor_credit("75.00")
    assert credit["Balance"] == credit["TotalAmt"] == Decimal("75.00")
    assert books.balance("Accounts Payable (A/P)") == ap_before + Decimal("225.00")
    assert books.name_balance("Vendor", books.vendor) == Decimal("225.00")

    payment = books.create(
        "BillPayment",
        {
            "VendorRef": {"value": books.vendor},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": books.accounts["Checking"]}},
            "TotalAmt": "225.00",
            "Line": [
                {"Amount": "300.00", "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]},
                {"Amount": "75.00", "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "VendorCredit"}]},
            ],
        },
    )
    assert payment["TotalAmt"] == Decimal("225.00")
    assert books.read("Bill", bill["Id"])["Balance"] == Decimal("0.00")
    used = books.read("VendorCredit", credit["Id"])
    assert used["Balance"] == Decimal("0.00")
    assert used["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPaymentCheck"}]
    assert books.name_balance("Vendor", books.vendor) == Decimal("0.00")
    assert books.balance("Accounts Payable (A/P)") == ap_before
    assert books.balance("Checking") == checking_before - Decimal("225.00")


def test_a_sales_receipt_deposits_to_undeposited_funds_unless_told_and_void_undoes_it(books: Books) -> None:
    funds_before = books.balance("Undeposited Funds")
    checking_before = books.balance("Checking")
    customer_before = books.name_balance("Customer", books.customer)
    default = books.create("SalesReceipt", {"Line": [books.sales_line("80.00")]})
    assert default["DepositToAccountRef"]["value"] == books.accounts["Undeposited Funds"]
    assert default["Balance"] == Decimal("0.00")
    assert books.balance("Undeposited Funds") == funds_before + Decimal("80.00")

    to_bank = books.create(
        "SalesReceipt",
        {
            "CustomerRef": {"value": books.customer},
            "DepositToAccountRef": {"value": books.accounts["Checking"]},
            "Line": [books.sales_line("200.00")],
        },
    )
    assert books.balance("Checking") == checking_before + Decimal("200.00")
    assert books.name_balance("Customer", books.customer) == customer_before  # paid on the spot: nothing owed

    voided = _ok(
        books.qbo.post(
            "/salesreceipt?operation=update&include=void",
            json={"Id": to_bank["Id"], "SyncToken": to_bank["SyncToken"], "sparse": True},
        )
    )["SalesReceipt"]
    assert voided["TotalAmt"] == Decimal("0.00")
    assert voided["PrivateNote"].startswith("Voided")
    assert books.balance("Checking") == checking_before
    assert books.read("SalesReceipt", to_bank["Id"])["Id"] == to_bank["Id"]  # the record stays


def test_a_sales_receipt_in_undeposited_funds_reaches_the_bank_with_a_deposit(books: Books) -> None:
    receipt = books.create("SalesReceipt", {"Line": [books.sales_line("60.00")]})
    funds, checking = books.balance("Undeposited Funds"), books.balance("Checking")
    deposit = books.create(
        "Deposit",
        {
            "DepositToAccountRef": {"value": books.accounts["Checking"]},
            "Line": [{"Amount": "60.00", "LinkedTxn": [{"TxnId": receipt["Id"], "TxnType": "SalesReceipt"}]}],
        },
    )
    assert (books.balance("Undeposited Funds"), books.balance("Checking")) == (funds - 60, checking + 60)
    deposited = books.read("SalesReceipt", receipt["Id"])
    assert deposited["LinkedTxn"] == [{"TxnId": deposit["Id"], "TxnType": "Deposit"}]
    void = {"Id": receipt["Id"], "SyncToken": deposited["SyncToken"], "sparse": True}
    _fault(books.qbo.post("/salesreceipt?operation=update&include=void", json=void), "6540")


def test_a_transfer_moves_money_between_accounts_and_deleting_it_moves_it_back(books: Books) -> None:
    checking, savings = books.balance("Checking"), books.balance("Savings")
    transfer = books.create(
        "Transfer",
        {
            "FromAccountRef": {"value": books.accounts["Checking"]},
            "ToAccountRef": {"value": books.accounts["Savings"]},
            "Amount": "1000.00",
            "PrivateNote": "Owner transfer to savings",
        },
    )
    assert transfer["Amount"] == Decimal("1000.00")
    assert transfer["FromAccountRef"]["name"] == "Checking"
    assert (books.balance("Checking"), books.balance("Savings")) == (checking - 1000, savings + 1000)

    updated = _ok(
        books.qbo.post(
            "/transfer",
            json={"Id": transfer["Id"], "SyncToken": "0", "sparse": True, "Amount": "400.00"},
        )
    )["Transfer"]
    assert updated["SyncToken"] == "1"
    assert (books.balance("Checking"), books.balance("Savings")) == (checking - 400, savings + 400)

    books.qbo.post("/transfer?operation=delete", json={"Id": transfer["Id"], "SyncToken": "1"}).raise_for_status()
    assert (books.balance("Checking"), books.balance("Savings")) == (checking, savings)
    assert books.qbo.get(f"/transfer/{transfer['Id']}").status_code == 400


@pytest.mark.parametrize(
    ("change", "element"),
    [
        ({"ToAccountRef": "Checking"}, "ToAccountRef"),
        ({"Amount": "0"}, "Amount"),
        ({"ToAccountRef": "Rent"}, "ToAccountRef"),
    ],
)
def test_bad_transfers_are_refused(books: Books, change: dict[str, str], element: str) -> None:
    body: dict[str, Any] = {
        "FromAccountRef": {"value": books.accounts["Checking"]},
        "ToAccountRef": {"value": books.accounts["Savings"]},
        "Amount": "10.00",
    }
    if "ToAccountRef" in change:
        body["ToAccountRef"] = {"value": books.accounts[change["ToAccountRef"]]}
    if "Amount" in change:
        body["Amount"] = change["Amount"]
    assert _fault(books.qbo.post("/transfer", json=body), "6000")["element"] == element


def test_a_journal_entry_moves_balances_and_must_balance(books: Books) -> None:
    checking = books.balance("Checking")
    payroll_liability_line = [
        books.journal_line("Debit", "Payroll Expenses", "3000.00"),
        books.journal_line("Debit", "Payroll Taxes", "230.00"),
        books.journal_line("Credit", "Checking", "3230.00"),
    ]
    entry = books.create("JournalEntry", {"Line": payroll_liability_line, "PrivateNote": "Payroll"})
    assert entry["TotalAmt"] == Decimal("3230.00")
    assert entry["Adjustment"] is False
    assert [line["LineNum"] for line in entry["Line"]] == [1, 2, 3]
    assert books.balance("Checking") == checking - Decimal("3230.00")

    unbalanced = [books.journal_line("Debit", "Rent", "100.00"), books.journal_line("Credit", "Checking", "90.00")]
    error = _fault(books.qbo.post("/journalentry", json={"Line": unbalanced}), "6000")
    assert "not balanced" in error["Detail"]
    assert books.balance("Checking") == checking - Decimal("3230.00")

    books.qbo.post("/journalentry?operation=delete", json={"Id": entry["Id"], "SyncToken": "0"}).raise_for_status()
    assert books.balance("Checking") == checking


def test_a_journal_entry_on_receivables_names_a_customer_and_moves_its_balance(books: Books) -> None:
    before = books.name_balance("Customer", books.customer)
    without_name = [
        books.journal_line("Debit", "Accounts Receivable (A/R)", "60.00"),
        books.journal_line("Credit", "Services", "60.00"),
    ]
    _fault(books.qbo.post("/journalentry", json={"Line": without_name}), "6000")
    with_name = [
        books.journal_line("Debit", "Accounts Receivable (A/R)", "60.00", ("Customer", books.customer)),
        books.journal_line("Credit", "Services", "60.00"),
    ]
    entry = books.create("JournalEntry", {"Line": with_name, "Adjustment": True})
    assert entry["Line"][0]["JournalEntryLineDetail"]["Entity"]["EntityRef"]["name"] == "Credit Test Clinic"
    assert books.name_balance("Customer", books.customer) == before + Decimal("60.00")


def test_the_new_entities_are_queryable_and_reported_by_cdc(books: Books) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    memo = books.credit_memo("15.00")
    credit = books.vendor_credit("25.00")
    books.create("SalesReceipt", {"Line": [books.sales_line("9.00")]})
    books.create(
        "Transfer",
        {
            "FromAccountRef": {"value": books.accounts["Savings"]},
            "ToAccountRef": {"value": books.accounts["Checking"]},
            "Amount": "3.00",
        },
    )
    lines = [books.journal_line("Debit", "Rent", "7.00"), books.journal_line("Credit", "Checking", "7.00")]
    books.create("JournalEntry", {"Line": lines})
    found = _ok(books.qbo.get("/query", params={"query": "select * from CreditMemo where RemainingCredit > '0'"}))
    assert memo["Id"] in [row["Id"] for row in found["QueryResponse"]["CreditMemo"]]
    count = _ok(books.qbo.get("/query", params={"query": "select count(*) from VendorCredit"}))
    assert count["QueryResponse"]["totalCount"] >= 1
    books.qbo.post("/vendorcredit?operation=delete", json={"Id": credit["Id"], "SyncToken": "0"}).raise_for_status()

    names = "CreditMemo,VendorCredit,SalesReceipt,Transfer,JournalEntry"
    cdc = _ok(books.qbo.get("/cdc", params={"entities": names, "changedSince": since}))
    sections = {key: rows for part in cdc["CDCResponse"][0]["QueryResponse"] for key, rows in part.items()}
    assert memo["Id"] in [row["Id"] for row in sections["CreditMemo"]]
    assert {"Id": credit["Id"], "status": "Deleted"}.items() <= next(
        row for row in sections["VendorCredit"] if row["Id"] == credit["Id"]
    ).items()
    assert {"SalesReceipt", "Transfer", "JournalEntry"} <= set(sections)


def test_the_new_entities_work_in_a_batch(books: Books) -> None:
    batch = {
        "BatchItemRequest": [
            {
                "bId": "t1",
                "operation": "create",
                "Transfer": {
                    "FromAccountRef": {"value": books.accounts["Savings"]},
                    "ToAccountRef": {"value": books.accounts["Checking"]},
                    "Amount": "5.00",
                },
            },
            {"bId": "q1", "Query": "select * from Transfer"},
        ]
    }
    answers = _ok(books.qbo.post("/batch", json=batch))["BatchItemResponse"]
    assert answers[0]["Transfer"]["Amount"] == Decimal("5.00")
    assert answers[1]["QueryResponse"]["Transfer"]
