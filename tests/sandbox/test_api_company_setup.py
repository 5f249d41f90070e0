"""What a QBO company starts with, over real HTTP: the default chart of accounts, PaymentMethod, TaxCode and TaxRate
(read and query, referenced by payments and sales lines), and Preferences in QBO's whole shape."""

from __future__ import annotations

from typing import Any

import httpx

PREFERENCE_SECTIONS = {
    "AccountingInfoPrefs": {"FirstMonthOfFiscalYear", "TrackDepartments", "ClassTrackingPerTxn", "CustomerTerminology"},
    "ProductAndServicesPrefs": {"ForSales", "ForPurchase", "QuantityWithPriceAndRate", "QuantityOnHand"},
    "SalesFormsPrefs": {"DefaultTerms", "CustomTxnNumbers", "AllowEstimates", "EstimateMessage", "CustomField"},
    "EmailMessagesPrefs": {"InvoiceMessage", "EstimateMessage", "SalesReceiptMessage", "StatementMessage"},
    "VendorAndPurchasesPrefs": {"BillableExpenseTracking", "TrackingByCustomer", "POCustomField"},
    "TimeTrackingPrefs": {"WorkWeekStartDate", "UseServices", "BillCustomers", "MarkTimeEntriesBillable"},
    "TaxPrefs": {"UsingSalesTax"},
    "CurrencyPrefs": {"HomeCurrency", "MultiCurrencyEnabled"},
    "ReportPrefs": {"ReportBasis", "CalcAgingReportFromTxnDate"},
    "OtherPrefs": {"NameValue"},
}


def _query(qbo: httpx.Client, sql: str) -> dict[str, Any]:
    response = qbo.get("/query", params={"query": sql})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["QueryResponse"]
    return result


def _fault_code(response: httpx.Response) -> str:
    code: str = response.json()["Fault"]["Error"][0]["code"]
    return code


def test_preferences_have_every_section_qbo_returns(qbo: httpx.Client) -> None:
    response = qbo.get("/preferences")
    assert response.status_code == 200
    preferences = response.json()["Preferences"]
    for section, fields in PREFERENCE_SECTIONS.items():
        assert fields <= set(preferences[section]), section
    assert preferences["EmailMessagesPrefs"]["EstimateMessage"]["Subject"].startswith("Estimate from ")
    uncategorized = {pair["Name"]: pair["Value"] for pair in preferences["OtherPrefs"]["NameValue"]}
    account = qbo.get(f"/account/{uncategorized['UncategorizedExpenseAccountId']}").json()["Account"]
    assert account["Name"] == "Uncategorized Expense"
    assert {"Id", "SyncToken", "MetaData"} <= set(preferences)


def test_chart_of_accounts_holds_qbo_s_defaults(qbo: httpx.Client) -> None:
    accounts = _query(qbo, "SELECT * FROM Account MAXRESULTS 1000")["Account"]
    by_name = {account["Name"]: account for account in accounts}
    for name, account_type, sub_type in (
        ("Inventory Asset", "Other Current Asset", "Inventory"),
        ("Sales of Product Income", "Income", "SalesOfProductIncome"),
        ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
        ("Retained Earnings", "Equity", "RetainedEarnings"),
        ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ):
        assert (by_name[name]["AccountType"], by_name[name]["AccountSubType"]) == (account_type, sub_type), name
    assert by_name["Cost of Goods Sold"]["Classification"] == "Expense"
    cogs = _query(qbo, "SELECT * FROM Account WHERE AccountSubType = 'SuppliesMaterialsCogs'")["Account"]
    assert [account["Name"] for account in cogs] == ["Cost of Goods Sold"]


def test_payment_methods_read_and_query(qbo: httpx.Client) -> None:
    methods = _query(qbo, "SELECT * FROM PaymentMethod")["PaymentMethod"]
    by_name = {method["Name"]: method for method in methods}
    assert {"Cash", "Check", "Visa", "MasterCard", "American Express", "Discover"} <= set(by_name)
    assert by_name["Visa"]["Type"] == "CREDIT_CARD"
    assert by_name["Check"]["Type"] == "NON_CREDIT_CARD"
    read = qbo.get(f"/paymentmethod/{by_name['Cash']['Id']}")
    assert read.status_code == 200
    assert read.json()["PaymentMethod"] == by_name["Cash"]
    cards = _query(qbo, "SELECT * FROM PaymentMethod WHERE Type = 'CREDIT_CARD'")["PaymentMethod"]
    assert "Cash" not in {method["Name"] for method in cards}


def test_payment_method_create_and_duplicate_name(qbo: httpx.Client) -> None:
    created = qbo.post("/paymentmethod", json={"Name": "Wire Transfer"})
    assert created.status_code == 200, created.text
    assert created.json()["PaymentMethod"]["Type"] == "NON_CREDIT_CARD"
    again = qbo.post("/paymentmethod", json={"Name": "wire transfer"})
    assert again.status_code == 400
    assert _fault_code(again) == "6240"


def test_tax_codes_and_rates_read_and_query(qbo: httpx.Client) -> None:
    codes = _query(qbo, "SELECT * FROM TaxCode")["TaxCode"]
    assert [code["Id"] for code in codes[:2]] == ["TAX", "NON"]  # the pseudo codes list first, as in QBO
    non = qbo.get("/taxcode/NON").json()["TaxCode"]
    assert (non["Name"], non["Taxable"], non["TaxGroup"]) == ("NON", False, False)
    group = next(code for code in codes if code["TaxGroup"])
    rate_ref = group["SalesTaxRateList"]["TaxRateDetail"][0]["TaxRateRef"]
    rate = qbo.get(f"/taxrate/{rate_ref['value']}").json()["TaxRate"]
    assert rate["Name"] == rate_ref["name"]
    assert float(rate["RateValue"]) > 0
    assert _query(qbo, f"SELECT * FROM TaxRate WHERE Name = '{rate['Name']}'")["TaxRate"] == [rate]


def test_tax_lists_are_not_written_or_in_cdc(qbo: httpx.Client) -> None:
    refused = qbo.post("/taxcode", json={"Name": "Made Up"})
    assert refused.status_code == 400
    cdc = qbo.get("/cdc", params={"entities": "TaxCode", "changedSince": "2026-01-01"})
    assert cdc.status_code == 400


def test_payments_and_sales_lines_reference_them(qbo: httpx.Client) -> None:
    customer = qbo.post("/customer", json={"DisplayName": "Setup Reference Customer"}).json()["Customer"]
    item = _query(qbo, "SELECT * FROM Item")["Item"][0]

    def line(tax_code: str) -> dict[str, Any]:
        detail = {"ItemRef": {"value": item["Id"]}, "TaxCodeRef": {"value": tax_code}}
        return {"Amount": "50.00", "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}

    invoice = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [line("TAX")]})
    assert invoice.status_code == 200, invoice.text
    assert invoice.json()["Invoice"]["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    refused = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [line("999")]})
    assert refused.status_code == 400
    assert _fault_code(refused) == "2500"

    visa = _query(qbo, "SELECT * FROM PaymentMethod WHERE Name = 'Visa'")["PaymentMethod"][0]
    body = {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": "50.00", "PaymentMethodRef": {"value": visa["Id"]}}
    payment = qbo.post("/payment", json=body)
    assert payment.status_code == 200, payment.text
    assert payment.json()["Payment"]["PaymentMethodRef"] == {"value": visa["Id"], "name": "Visa"}
    bad = qbo.post("/payment", json={**body, "PaymentMethodRef": {"value": "999"}})
    assert bad.status_code == 400
    assert _fault_code(bad) == "2500"
