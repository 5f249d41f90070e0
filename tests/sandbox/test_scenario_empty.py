"""The ``empty`` scenario: a full chart of accounts and company settings, no names and no transactions, and one's
own data loaded into it through the public /v3 API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from oodaloo.sandbox.demo.setup import ACCOUNTS, PAYMENT_METHODS, TERMS
from oodaloo.sandbox.rules.realm import NAME_LISTS, TRANSACTIONS
from oodaloo.settings import Settings
from tests.sandbox.conftest import RunningSandbox

NAMES = ("Customer", "Vendor")


def _rows(qbo: httpx.Client, sql: str) -> list[dict[str, Any]]:
    response = qbo.get("/query", params={"query": sql})
    assert response.status_code == 200, response.text
    body = response.json(parse_float=Decimal)["QueryResponse"]
    rows: list[dict[str, Any]] = next((v for k, v in body.items() if isinstance(v, list)), [])
    return rows


@pytest.fixture(scope="module")
def empty(sandbox: RunningSandbox) -> tuple[str, httpx.Client]:
    created = sandbox.admin().post("/_sandbox/realms", json={"scenario": "empty"})
    assert created.status_code == 201, created.text
    realm_id: str = created.json()["realm_id"]
    return realm_id, sandbox.client(realm_id)


def test_the_empty_company_has_its_settings_and_no_names_or_transactions(
    sandbox: RunningSandbox, empty: tuple[str, httpx.Client]
) -> None:
    realm_id, qbo = empty
    summary = sandbox.admin().get(f"/_sandbox/realms/{realm_id}").json()
    assert summary["scenario"] == "empty"
    counts = summary["counts"]
    assert all(counts[entity] == 0 for entity in (*NAMES, *TRANSACTIONS)), counts
    assert counts["Account"] == len(ACCOUNTS)
    assert counts["Term"] == len(TERMS)
    assert counts["PaymentMethod"] == len(PAYMENT_METHODS)
    assert counts["TaxCode"] >= 2
    assert counts["CompanyInfo"] == counts["Preferences"] == 1
    assert set(NAME_LISTS) - set(NAMES) <= {entity for entity, n in counts.items() if n}

    accounts = _rows(qbo, "select * from Account maxresults 1000")
    assert {a["Name"] for a in accounts} == {name for name, _, _ in ACCOUNTS}
    assert all(Decimal(str(a.get("CurrentBalance", 0))) == 0 for a in accounts)
    for entity in (*NAMES, "Invoice", "Bill", "JournalEntry"):
        assert _rows(qbo, f"select * from {entity}") == []
    company = qbo.get(f"/companyinfo/{realm_id}").json()["CompanyInfo"]
    assert company["CompanyName"]
    preferences = qbo.get("/preferences").json()["Preferences"]
    assert preferences["SalesFormsPrefs"]["DefaultTerms"]["value"]


def test_an_empty_realm_with_a_size_is_refused_naming_it(sandbox: RunningSandbox) -> None:
    answer = sandbox.admin().post("/_sandbox/realms", json={"scenario": "empty", "size": 500})
    assert answer.status_code == 422
    assert "size" in answer.text


def test_a_customer_invoice_and_payment_load_through_the_api(empty: tuple[str, httpx.Client]) -> None:
    _, qbo = empty
    customer = qbo.post("/customer", json={"DisplayName": "First Client Inc"}).json()["Customer"]
    service = _rows(qbo, "select * from Item where Type = 'Service'")[0]
    invoice_body = {
        "CustomerRef": {"value": customer["Id"]},
        "TxnDate": "2026-01-15",
        "Line": [
            {
                "Amount": "1500.00",
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": service["Id"]}},
            }
        ],
    }
    invoice = qbo.post("/invoice", json=invoice_body).json(parse_float=Decimal)["Invoice"]
    assert invoice["Balance"] == Decimal("1500.00")
    payment_body = {
        "CustomerRef": {"value": customer["Id"]},
        "TotalAmt": "1500.00",
        "Line": [{"Amount": "1500.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    response = qbo.post("/payment", json=payment_body)
    assert response.status_code == 200, response.text

    assert _rows(qbo, f"select * from Invoice where Id = '{invoice['Id']}'")[0]["Balance"] == Decimal("0.00")
    funds = _rows(qbo, "select * from Account where Name = 'Undeposited Funds'")[0]
    assert Decimal(str(funds["CurrentBalance"])) == Decimal("1500.00")
    assert _rows(qbo, "select count(*) from Payment") == []  # a count has no rows
    counted = qbo.get("/query", params={"query": "select count(*) from Payment"}).json()
    assert counted["QueryResponse"]["totalCount"] == 1


def test_the_main_app_can_be_configured_to_embed_an_empty_company() -> None:
    assert Settings(sandbox_scenario="empty").sandbox_scenario == "empty"
