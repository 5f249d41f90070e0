"""The state file: a sandbox restarted from it serves the same data, tokens, change log and requestid replays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from oodaloo.sandbox.app import create_sandbox_app
from tests.sandbox.conftest import make_config
from tests.support.servers import serve


def _client(app: Any, base_url: str) -> httpx.Client:
    realm_id = app.state.sandbox.store.default_realm_id
    token = app.state.sandbox.tokens.mint(realm_id)["access_token"]
    return httpx.Client(base_url=f"{base_url}/v3/company/{realm_id}", headers={"Authorization": f"Bearer {token}"})


def _bill_body(qbo: httpx.Client) -> dict[str, Any]:
    vendor = qbo.get("/query", params={"query": "SELECT * FROM Vendor MAXRESULTS 1"}).json()["QueryResponse"]
    account = qbo.get("/query", params={"query": "SELECT * FROM Account WHERE Name = 'Rent'"}).json()
    return {
        "VendorRef": {"value": vendor["Vendor"][0]["Id"]},
        "Line": [
            {
                "Amount": "12.34",
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {
                    "AccountRef": {"value": account["QueryResponse"]["Account"][0]["Id"]}
                },
            }
        ],
    }


def test_round_trip_through_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    config = make_config(state_file=state_file)
    rid = uuid.uuid4().hex
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()

    first_app = create_sandbox_app(config)
    with serve(first_app) as base_url, _client(first_app, base_url) as qbo:
        created = qbo.post("/bill", params={"requestid": rid}, json=_bill_body(qbo))
        bill = created.json()["Bill"]
        updated = qbo.post("/bill", json={"Id": bill["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "kept"})
        assert updated.status_code == 200
        doomed = qbo.post("/bill", json=_bill_body(qbo)).json()["Bill"]
        qbo.post("/bill", params={"operation": "delete"}, json={"Id": doomed["Id"], "SyncToken": "0"})
        saved_bill = qbo.get(f"/bill/{bill['Id']}").json()["Bill"]
        saved_accounts = qbo.get("/query", params={"query": "SELECT * FROM Account MAXRESULTS 1000"}).json()
    assert state_file.exists()

    second_app = create_sandbox_app(make_config(state_file=state_file))
    with serve(second_app) as base_url, _client(second_app, base_url) as qbo:
        assert qbo.get(f"/bill/{bill['Id']}").json()["Bill"] == saved_bill
        accounts = qbo.get("/query", params={"query": "SELECT * FROM Account MAXRESULTS 1000"}).json()
        assert accounts["QueryResponse"] == saved_accounts["QueryResponse"]
        replay = qbo.post("/bill", params={"requestid": rid}, json=_bill_body(qbo))
        assert replay.content == created.content
        cdc = qbo.get("/cdc", params={"entities": "Bill", "changedSince": since}).json()
        bills = {b["Id"]: b for b in cdc["CDCResponse"][0]["QueryResponse"][0]["Bill"]}
        assert bills[doomed["Id"]]["status"] == "Deleted"
        assert bills[bill["Id"]]["PrivateNote"] == "kept"
        fresh = qbo.post("/bill", json=_bill_body(qbo)).json()["Bill"]
        assert int(fresh["Id"]) > int(doomed["Id"])  # ids are never reused, even of deleted objects
