"""Batch over real HTTP: mixed results with bId echoed, void via optionsData, queries, and batch-level faults."""

from __future__ import annotations

from typing import Any

import httpx


def _batch(qbo: httpx.Client, items: list[dict[str, Any]]) -> httpx.Response:
    return qbo.post("/batch", json={"BatchItemRequest": items})


def _one(qbo: httpx.Client, sql: str) -> dict[str, Any]:
    rows = qbo.get("/query", params={"query": sql}).json()["QueryResponse"]
    entity = next(k for k in rows if k not in ("startPosition", "maxResults"))
    row: dict[str, Any] = rows[entity][0]
    return row


def test_mixed_batch_echoes_bids_and_isolates_failures(qbo: httpx.Client) -> None:
    vendor = qbo.post("/vendor", json={"DisplayName": "Batch Existing Vendor"}).json()["Vendor"]
    response = _batch(
        qbo,
        [
            {"bId": "b1", "operation": "create", "Vendor": {"DisplayName": "Batch New Vendor"}},
            {
                "bId": "b2",
                "operation": "update",
                "Vendor": {"Id": vendor["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "Batch Co"},
            },
            {"bId": "b3", "operation": "update", "Vendor": {"Id": vendor["Id"], "SyncToken": "0", "sparse": True}},
            {"bId": "b4", "Query": "SELECT * FROM Vendor WHERE DisplayName = 'Batch Existing Vendor'"},
            {"bId": "b5", "operation": "create", "Bill": {"Line": []}},
        ],
    )
    assert response.status_code == 200
    items = {item["bId"]: item for item in response.json()["BatchItemResponse"]}
    assert items["b1"]["Vendor"]["DisplayName"] == "Batch New Vendor"
    assert items["b1"]["Vendor"]["Id"].isdigit()
    assert items["b2"]["Vendor"]["SyncToken"] == "1"
    assert items["b2"]["Vendor"]["CompanyName"] == "Batch Co"
    assert items["b3"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["b3"]["Fault"]["type"] == "ValidationFault"
    assert items["b4"]["QueryResponse"]["Vendor"][0]["CompanyName"] == "Batch Co"
    assert items["b5"]["Fault"]["Error"][0]["code"] == "2020"
    assert qbo.get(f"/vendor/{items['b1']['Vendor']['Id']}").status_code == 200


def test_void_and_delete_in_batch(qbo: httpx.Client) -> None:
    invoice = _one(qbo, "SELECT * FROM Invoice WHERE Balance > '0' MAXRESULTS 1")
    customer_id = invoice["CustomerRef"]["value"]
    payment_body = {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": 1,
        "Line": [{"Amount": 1, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    first = qbo.post("/payment", json=payment_body).json()["Payment"]
    second = qbo.post("/payment", json=payment_body).json()["Payment"]
    response = _batch(
        qbo,
        [
            {
                "bId": "v",
                "operation": "update",
                "optionsData": "void",
                "Payment": {"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True},
            },
            {"bId": "d", "operation": "delete", "Payment": {"Id": second["Id"], "SyncToken": second["SyncToken"]}},
        ],
    )
    items = {item["bId"]: item for item in response.json()["BatchItemResponse"]}
    assert items["v"]["Payment"]["TotalAmt"] == 0
    assert items["v"]["Payment"]["PrivateNote"].startswith("Voided")
    assert items["d"]["Payment"] == {"status": "Deleted", "domain": "QBO", "Id": second["Id"]}
    assert qbo.get(f"/invoice/{invoice['Id']}").json()["Invoice"]["Balance"] == invoice["Balance"]


def test_batch_level_faults(qbo: httpx.Client) -> None:
    too_many = [{"bId": f"q{i}", "Query": "SELECT * FROM Term"} for i in range(31)]
    for response in (_batch(qbo, too_many), _batch(qbo, []), qbo.post("/batch", json={})):
        assert response.status_code == 400
        assert response.json()["Fault"]["Error"][0]["code"]
    thirty = _batch(qbo, too_many[:30])
    assert thirty.status_code == 200
    assert len(thirty.json()["BatchItemResponse"]) == 30
