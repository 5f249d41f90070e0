"""requestid idempotency over real HTTP: byte-identical replays, no second write, no event, stats, faults."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.events import ChangeEvent
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.support.servers import serve


def _bill(qbo: httpx.Client, note: str) -> dict[str, Any]:
    vendor = qbo.get("/query", params={"query": "SELECT * FROM Vendor MAXRESULTS 1"}).json()["QueryResponse"]
    account = qbo.get("/query", params={"query": "SELECT * FROM Account WHERE Name = 'Rent'"}).json()
    return {
        "VendorRef": {"value": vendor["Vendor"][0]["Id"]},
        "PrivateNote": note,
        "Line": [
            {
                "Amount": 42,
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {
                    "AccountRef": {"value": account["QueryResponse"]["Account"][0]["Id"]}
                },
            }
        ],
    }


def _count(qbo: httpx.Client, note: str) -> int:
    sql = "SELECT * FROM Bill ORDERBY Id DESC MAXRESULTS 50"
    rows = qbo.get("/query", params={"query": sql}).json()["QueryResponse"].get("Bill", [])
    return sum(1 for row in rows if row.get("PrivateNote") == note)


def test_replay_is_byte_identical_and_writes_once(sandbox: RunningSandbox, qbo: httpx.Client) -> None:
    events: list[ChangeEvent] = []
    sandbox.state.store.subscribe(events.append)
    stats_before = sandbox.state.stats.snapshot(sandbox.realm_id)
    rid = uuid.uuid4().hex
    body = _bill(qbo, "requestid once")
    first = qbo.post("/bill", params={"requestid": rid}, json=body)
    second = qbo.post("/bill", params={"requestid": rid, "minorversion": "75"}, json=body)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first.headers["intuit_tid"] != second.headers["intuit_tid"]
    assert _count(qbo, "requestid once") == 1
    assert [(e.entity, e.operation) for e in events if e.entity == "Bill"] == [("Bill", "Create")]
    stats = sandbox.state.stats.snapshot(sandbox.realm_id)
    assert stats["writes"] == stats_before["writes"] + 1
    assert stats["replayed_writes"] == stats_before["replayed_writes"] + 1


def test_faults_are_replayed_too(qbo: httpx.Client) -> None:
    rid = uuid.uuid4().hex
    refused = qbo.post("/bill", params={"requestid": rid}, json={"PrivateNote": "requestid fault"})
    assert refused.status_code == 400
    retried = qbo.post("/bill", params={"requestid": rid}, json=_bill(qbo, "requestid fault"))
    assert retried.status_code == 400
    assert retried.content == refused.content
    assert _count(qbo, "requestid fault") == 0


def test_batch_replay_and_length_limits(qbo: httpx.Client) -> None:
    rid = uuid.uuid4().hex  # 32 chars: fits the batch limit of 36
    batch = {"BatchItemRequest": [{"bId": "1", "operation": "create", "Bill": _bill(qbo, "requestid batch")}]}
    first = qbo.post("/batch", params={"requestid": rid}, json=batch)
    again = qbo.post("/batch", params={"requestid": rid}, json=batch)
    assert first.status_code == 200
    assert first.content == again.content
    assert _count(qbo, "requestid batch") == 1
    long_batch = qbo.post("/batch", params={"requestid": "x" * 37}, json=batch)
    assert long_batch.status_code == 400
    assert long_batch.json()["Fault"]["Error"][0]["code"] == "6000"
    long_single = qbo.post("/bill", params={"requestid": "x" * 51}, json=_bill(qbo, "too long"))
    assert long_single.status_code == 400
    assert long_single.json()["Fault"]["Error"][0]["code"] == "6000"
    assert _count(qbo, "too long") == 0


def test_mismatched_body_faults_when_configured() -> None:
    app = create_sandbox_app(make_config(requestid_mismatch="fault"))
    state = app.state.sandbox
    token = state.tokens.mint(state.store.default_realm_id)["access_token"]
    with serve(app) as base_url:
        qbo = httpx.Client(
            base_url=f"{base_url}/v3/company/{state.store.default_realm_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with qbo:
            rid = uuid.uuid4().hex
            assert qbo.post("/bill", params={"requestid": rid}, json=_bill(qbo, "mismatch a")).status_code == 200
            same = qbo.post("/bill", params={"requestid": rid}, json=_bill(qbo, "mismatch a"))
            assert same.status_code == 200
            other = qbo.post("/bill", params={"requestid": rid}, json=_bill(qbo, "mismatch b"))
            assert other.status_code == 400
            assert other.json()["Fault"]["Error"][0]["code"] == "600"
            assert _count(qbo, "mismatch a") == 1
            assert _count(qbo, "mismatch b") == 0
