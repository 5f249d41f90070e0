"""CRUD over real HTTP: create/read/update with SyncToken, lenient bodies, balances after payments, voids, deletes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import RunningSandbox


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.headers["intuit_tid"]
    body: dict[str, Any] = response.json(parse_float=Decimal)
    assert "time" in body
    return body


def _fault(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    assert error["code"] == code, error
    assert error["Message"]
    return error


def _first(qbo: httpx.Client, sql: str) -> dict[str, Any]:
    body = _ok(qbo.get("/query", params={"query": sql}))
    entity = next(k for k in body["QueryResponse"] if k not in ("startPosition", "maxResults"))
    row: dict[str, Any] = body["QueryResponse"][entity][0]
    return row


def _account(qbo: httpx.Client, name: str) -> dict[str, Any]:
    return _first(qbo, f"SELECT * FROM Account WHERE Name = '{name}'")


def _read(qbo: httpx.Client, entity: str, entity_id: str) -> dict[str, Any]:
    obj: dict[str, Any] = _ok(qbo.get(f"/{entity.lower()}/{entity_id}"))[entity]
    return obj


@pytest.fixture(scope="module")
def vendor(qbo: httpx.Client) -> dict[str, Any]:
    body = {"DisplayName": "CRUD Test Paper Co", "PrimaryEmailAddr": {"Address": "ap@paper.example"}}
    created: dict[str, Any] = _ok(qbo.post("/vendor", json=body))["Vendor"]
    return created


@pytest.fixture(scope="module")
def customer(qbo: httpx.Client) -> dict[str, Any]:
    body = {"DisplayName": "CRUD Test Dental LLC", "PrimaryEmailAddr": {"Address": "ap@dental.example"}}
    created: dict[str, Any] = _ok(qbo.post("/customer", json=body))["Customer"]
    return created


def _bill_body(vendor_id: str, amount: str, account_id: str) -> dict[str, Any]:
    return {
        "VendorRef": {"value": vendor_id},
        "TxnDate": "2026-03-01",
        "Line": [
            {
                "Amount": amount,
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account_id}},
            }
        ],
    }


def test_create_fills_system_fields_names_and_totals(qbo: httpx.Client, vendor: dict[str, Any]) -> None:
    rent = _account(qbo, "Rent")
    bill = _ok(qbo.post("/bill", json=_bill_body(vendor["Id"], "1250.00", rent["Id"])))["Bill"]
    assert bill["Id"].isdigit()
    assert bill["SyncToken"] == "0"
    assert bill["domain"] == "QBO"
    assert bill["sparse"] is False
    assert bill["VendorRef"] == {"value": vendor["Id"], "name": "CRUD Test Paper Co"}
    assert bill["TotalAmt"] == Decimal("1250")
    assert bill["Balance"] == Decimal("1250")
    assert bill["Line"][0]["Id"] == "1"
    assert bill["Line"][0]["LineNum"] == 1
    assert bill["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["name"] == "Rent"
    assert bill["APAccountRef"]["name"]
    created = bill["MetaData"]["CreateTime"]
    assert len(created) == 25
    assert created[19] in "+-"
    assert _read(qbo, "Bill", bill["Id"]) == bill


def test_lenient_create_body_from_get_modify_save_clients(qbo: httpx.Client, vendor: dict[str, Any]) -> None:
    rent = _account(qbo, "Rent")
    body = _bill_body(vendor["Id"], "99.95", rent["Id"])
    body.update(
        {
            "TxnDate": "",
            "DueDate": "",
            "TotalAmt": "",
            "Balance": 0,
            "SyncToken": 0,
            "sparse": False,
            "domain": "QBO",
            "MetaData": {"CreateTime": "2020-01-01T00:00:00-08:00"},
            "VendorRef": {"value": vendor["Id"], "name": ""},
            "PrivateNote": None,
        }
    )
    bill = _ok(qbo.post("/bill", json=body))["Bill"]
    assert bill["TotalAmt"] == Decimal("99.95")
    assert bill["Balance"] == Decimal("99.95")
    assert bill["TxnDate"]
    assert bill["DueDate"] >= bill["TxnDate"]
    assert bill["MetaData"]["CreateTime"] != "2020-01-01T00:00:00-08:00"
    assert "PrivateNote" not in bill


def test_entity_segment_is_case_insensitive_and_minorversion_ignored(qbo: httpx.Client, vendor: dict[str, Any]) -> None:
    assert _ok(qbo.get(f"/VENDOR/{vendor['Id']}", params={"minorversion": "4"}))["Vendor"]["Id"] == vendor["Id"]


def test_required_fields_and_bad_references_fault(
    qbo: httpx.Client, vendor: dict[str, Any], customer: dict[str, Any]
) -> None:
    error = _fault(qbo.post("/bill", json={"Line": []}), "2020")
    assert error["element"] == "VendorRef"
    rent = _account(qbo, "Rent")
    _fault(qbo.post("/bill", json={"VendorRef": {"value": vendor["Id"]}}), "2020")
    _fault(qbo.post("/bill", json=_bill_body("999999", "10.00", rent["Id"])), "2500")
    _fault(qbo.post("/vendor", json={"DisplayName": "CRUD Test Dental LLC"}), "6240")  # a customer has it
    _fault(qbo.post("/vendor", json={"Vendor1099": False}), "6080")


def test_malformed_json_missing_id_and_unknown_entity(qbo: httpx.Client) -> None:
    response = qbo.post("/bill", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"]
    _fault(qbo.get("/bill/987654321"), "610")
    _fault(qbo.get("/widget/1"), "500")
    _fault(qbo.post("/vendor", params={"operation": "delete"}, json={"Id": "1", "SyncToken": "0"}), "500")


def test_duplicate_bill_number_per_vendor(qbo: httpx.Client, vendor: dict[str, Any]) -> None:
    rent = _account(qbo, "Rent")
    body = {**_bill_body(vendor["Id"], "10.00", rent["Id"]), "DocNumber": "DUP-1"}
    _ok(qbo.post("/bill", json=body))
    _fault(qbo.post("/bill", json=body), "6140")
    assert _ok(qbo.post("/bill", params={"include": "allowduplicatedocnum"}, json=body))["Bill"]["DocNumber"] == "DUP-1"


def test_sparse_and_full_update_with_synctoken(qbo: httpx.Client, vendor: dict[str, Any]) -> None:
    rent = _account(qbo, "Rent")
    body = {**_bill_body(vendor["Id"], "300.00", rent["Id"]), "PrivateNote": "first", "DocNumber": "SP-1"}
    bill = _ok(qbo.post("/bill", json=body))["Bill"]
    sparse = {"Id": bill["Id"], "SyncToken": 0, "sparse": True, "DueDate": "2026-04-15"}
    updated = _ok(qbo.post("/bill", json=sparse))["Bill"]
    assert updated["SyncToken"] == "1"
    assert updated["DueDate"] == "2026-04-15"
    assert updated["PrivateNote"] == "first"
    assert updated["TotalAmt"] == Decimal("300")
    _fault(qbo.post("/bill", json=sparse), "5010")  # the token is stale now

    full = {"Id": bill["Id"], "SyncToken": "1", **_bill_body(vendor["Id"], "320.00", rent["Id"])}
    replaced = _ok(qbo.post("/bill", params={"operation": "update"}, json=full))["Bill"]
    assert replaced["SyncToken"] == "2"
    assert replaced["TotalAmt"] == Decimal("320")
    assert "PrivateNote" not in replaced
    assert "DocNumber" not in replaced
    assert replaced["MetaData"]["CreateTime"] == bill["MetaData"]["CreateTime"]


def test_bill_payment_partial_then_void_and_delete_restore_balances(qbo: httpx.Client, vendor: dict[str, Any]) -> None:
    rent, checking = _account(qbo, "Rent"), _account(qbo, "Checking")
    bill = _ok(qbo.post("/bill", json=_bill_body(vendor["Id"], "1000.00", rent["Id"])))["Bill"]
    vendor_before = _read(qbo, "Vendor", vendor["Id"])["Balance"]
    payment_line = {"Amount": 400, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}
    payment_body: dict[str, Any] = {
        "VendorRef": {"value": vendor["Id"]},
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": checking["Id"]}},
        "TotalAmt": 400.0,
        "Line": [payment_line],
    }
    payment = _ok(qbo.post("/billpayment", json=payment_body))["BillPayment"]
    paid_bill = _read(qbo, "Bill", bill["Id"])
    assert paid_bill["Balance"] == Decimal("600")
    assert paid_bill["SyncToken"] == "1"
    assert paid_bill["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPaymentCheck"}]
    assert _account(qbo, "Checking")["CurrentBalance"] == checking["CurrentBalance"] - 400
    assert _read(qbo, "Vendor", vendor["Id"])["Balance"] == vendor_before - 400

    overpay = {**payment_body, "TotalAmt": 700, "Line": [{**payment_line, "Amount": 700}]}
    _fault(qbo.post("/billpayment", json=overpay), "6000")
    _fault(qbo.post("/bill", params={"operation": "delete"}, json={"Id": bill["Id"], "SyncToken": "1"}), "6000")

    voided = _ok(
        qbo.post(
            "/billpayment",
            params={"operation": "update", "include": "void"},
            json={"Id": payment["Id"], "SyncToken": "0", "sparse": True},
        )
    )["BillPayment"]
    assert voided["TotalAmt"] == 0
    assert voided["Line"] == []
    assert voided["PrivateNote"].startswith("Voided")
    restored = _read(qbo, "Bill", bill["Id"])
    assert restored["Balance"] == Decimal("1000")
    assert "LinkedTxn" not in restored
    assert _account(qbo, "Checking")["CurrentBalance"] == checking["CurrentBalance"]

    deleted = _ok(qbo.post("/bill", params={"operation": "delete"}, json={"Id": bill["Id"], "SyncToken": "2"}))
    assert deleted["Bill"] == {"status": "Deleted", "domain": "QBO", "Id": bill["Id"]}
    _fault(qbo.get(f"/bill/{bill['Id']}"), "610")
    assert _read(qbo, "Vendor", vendor["Id"])["Balance"] == vendor_before - 1000


def test_invoice_payment_deposit_void_cycle(qbo: httpx.Client, customer: dict[str, Any]) -> None:
    checking, undeposited = _account(qbo, "Checking"), _account(qbo, "Undeposited Funds")
    item = _first(qbo, "SELECT * FROM Item")
    line = {
        "Amount": 900.00,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 6, "UnitPrice": 150},
    }
    invoice = _ok(qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [line]}))["Invoice"]
    assert invoice["EmailStatus"] == "NotSet"
    assert invoice["DocNumber"]
    assert invoice["Line"][-1] == {"Amount": 900, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    assert invoice["BillEmail"] == {"Address": "ap@dental.example"}
    bad_line = {**line, "Amount": 901}
    _fault(qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [bad_line]}), "6070")

    payment = _ok(
        qbo.post(
            "/payment",
            json={
                "CustomerRef": {"value": customer["Id"]},
                "TotalAmt": 1000,
                "Line": [{"Amount": 500, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
            },
        )
    )["Payment"]
    assert payment["UnappliedAmt"] == 500
    assert payment["DepositToAccountRef"]["value"] == undeposited["Id"]
    assert _read(qbo, "Invoice", invoice["Id"])["Balance"] == 400
    assert _read(qbo, "Customer", customer["Id"])["Balance"] == -100  # 900 billed, 1000 received

    link = {"TxnId": payment["Id"], "TxnType": "Payment", "TxnLineId": 0}
    deposit = _ok(
        qbo.post(
            "/deposit",
            json={"DepositToAccountRef": {"value": checking["Id"]}, "Line": [{"Amount": 1000, "LinkedTxn": [link]}]},
        )
    )["Deposit"]
    assert deposit["TotalAmt"] == 1000
    assert deposit["Line"][0]["LinkedTxn"][0]["TxnLineId"] == "0"
    assert _account(qbo, "Checking")["CurrentBalance"] == checking["CurrentBalance"] + 1000
    assert _account(qbo, "Undeposited Funds")["CurrentBalance"] == undeposited["CurrentBalance"]

    current = _read(qbo, "Payment", payment["Id"])
    void = {"operation": "update", "include": "void"}
    _fault(qbo.post("/payment", json={"Id": payment["Id"], "SyncToken": current["SyncToken"]}, params=void), "6540")
    _ok(qbo.post("/deposit", params={"operation": "delete"}, json={"Id": deposit["Id"], "SyncToken": "0"}))
    current = _read(qbo, "Payment", payment["Id"])
    _ok(
        qbo.post("/payment", json={"Id": payment["Id"], "SyncToken": current["SyncToken"], "sparse": True}, params=void)
    )
    invoice_now = _read(qbo, "Invoice", invoice["Id"])
    assert invoice_now["Balance"] == 900
    assert "LinkedTxn" not in invoice_now
    assert _read(qbo, "Customer", customer["Id"])["Balance"] == 900
    assert _account(qbo, "Checking")["CurrentBalance"] == checking["CurrentBalance"]

    voided = _ok(
        qbo.post(
            "/invoice", params={"operation": "void"}, json={"Id": invoice["Id"], "SyncToken": invoice_now["SyncToken"]}
        )
    )["Invoice"]
    assert voided["Balance"] == 0
    assert voided["TotalAmt"] == 0
    assert _read(qbo, "Customer", customer["Id"])["Balance"] == 0


@pytest.mark.parametrize(
    "quantities",
    [
        {"Qty": 0, "UnitPrice": 0},  # python-quickbooks' default SalesItemLineDetail
        {},
        {"Qty": 3},
        {"UnitPrice": 75},
        {"Qty": 0, "UnitPrice": 40},
    ],
)
def test_a_sales_line_may_carry_an_amount_without_qty_and_unit_price(
    qbo: httpx.Client, quantities: dict[str, int]
) -> None:
    # A customer of its own, so the shared one's balance stays what the other tests expect.
    customer = _ok(qbo.post("/customer", json={"DisplayName": f"Sales Line Test {sorted(quantities.items())}"}))
    customer = customer["Customer"]
    item = _first(qbo, "SELECT * FROM Item")
    line = {
        "Amount": 250.00,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, **quantities},
    }
    invoice = _ok(qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [line]}))["Invoice"]
    assert invoice["TotalAmt"] == 250
    assert invoice["Balance"] == 250
    assert invoice["Line"][0]["Amount"] == 250


def test_purchase_moves_bank_and_card_balances(qbo: httpx.Client, vendor: dict[str, Any]) -> None:
    checking, card, rent = (
        _account(qbo, "Checking"),
        _first(qbo, "SELECT * FROM Account WHERE AccountType = 'Credit Card'"),
        _account(qbo, "Rent"),
    )
    line = {
        "Amount": 75.25,
        "DetailType": "AccountBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": rent["Id"]}},
    }
    cheque = {"PaymentType": "Check", "AccountRef": {"value": checking["Id"]}, "Line": [line]}
    purchase = _ok(qbo.post("/purchase", json={**cheque, "EntityRef": {"value": vendor["Id"]}}))["Purchase"]
    assert purchase["EntityRef"]["name"] == vendor["DisplayName"]
    assert purchase["TotalAmt"] == Decimal("75.25")
    assert _account(qbo, "Checking")["CurrentBalance"] == checking["CurrentBalance"] - Decimal("75.25")
    charge = {"PaymentType": "CreditCard", "AccountRef": {"value": card["Id"]}, "Line": [line]}
    _ok(qbo.post("/purchase", json=charge))
    _ok(qbo.post("/purchase", json={**charge, "Credit": True}))
    card_now = _first(qbo, f"SELECT * FROM Account WHERE Id = '{card['Id']}'")
    assert card_now["CurrentBalance"] == card["CurrentBalance"]  # charge and refund cancel out
    _fault(qbo.post("/purchase", json={**cheque, "AccountRef": {"value": card["Id"]}}), "6000")


def test_invoice_send_and_pdf(qbo: httpx.Client, customer: dict[str, Any]) -> None:
    item = _first(qbo, "SELECT * FROM Item")
    line = {
        "Amount": 50,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    invoice = _ok(qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [line]}))["Invoice"]
    sent = _ok(
        qbo.post(
            f"/invoice/{invoice['Id']}/send",
            params={"sendTo": "billing@dental.example"},
            headers={"Content-Type": "application/octet-stream"},
        )
    )["Invoice"]
    assert sent["EmailStatus"] == "EmailSent"
    assert sent["SyncToken"] == "1"
    assert sent["BillEmail"] == {"Address": "billing@dental.example"}
    assert sent["DeliveryInfo"]["DeliveryType"] == "Email"
    pdf = qbo.get(f"/invoice/{invoice['Id']}/pdf", headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    assert invoice["DocNumber"].encode() in pdf.content


def test_invoice_send_without_any_address_faults(qbo: httpx.Client) -> None:
    nobody = _ok(qbo.post("/customer", json={"DisplayName": "CRUD No Email Ltd"}))["Customer"]
    item = _first(qbo, "SELECT * FROM Item")
    line = {"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}
    invoice = _ok(qbo.post("/invoice", json={"CustomerRef": {"value": nobody["Id"]}, "Line": [line]}))["Invoice"]
    error = _fault(qbo.post(f"/invoice/{invoice['Id']}/send"), "6000")
    assert error["element"] == "BillEmail"


def test_companyinfo_and_preferences(sandbox: RunningSandbox, qbo: httpx.Client) -> None:
    bare = httpx.get(
        f"{sandbox.base_url}/v3/company/{sandbox.realm_id}/companyinfo/{sandbox.realm_id}",
        headers={"Authorization": qbo.headers["Authorization"]},
    )
    info = _ok(bare)["CompanyInfo"]
    assert info["CompanyName"]
    assert info["Id"] == "1"
    assert _first(qbo, "SELECT * FROM CompanyInfo")["CompanyName"] == info["CompanyName"]
    assert _ok(qbo.get("/preferences"))["Preferences"]["CurrencyPrefs"]


def test_name_list_made_inactive_by_sparse_update(qbo: httpx.Client) -> None:
    vendor = _ok(qbo.post("/vendor", json={"DisplayName": "CRUD Short Lived"}))["Vendor"]
    gone = _ok(qbo.post("/vendor", json={"Id": vendor["Id"], "SyncToken": "0", "sparse": True, "Active": False}))
    assert gone["Vendor"]["Active"] is False
    assert _read(qbo, "Vendor", vendor["Id"])["Active"] is False
    rows = _ok(qbo.get("/query", params={"query": "SELECT * FROM Vendor WHERE DisplayName = 'CRUD Short Lived'"}))
    assert rows["QueryResponse"] == {}
