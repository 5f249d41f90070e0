"""Change data capture over real HTTP: changed and deleted objects, changedSince formats, the lookback limit.

Every test runs with the clock frozen at each of the shared instants (00:30, 02:30 and 23:30 in zones behind, at
and ahead of UTC), against a sandbox whose company lives in that zone and was made at that instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from oodaloo.sandbox.config import SandboxConfig
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.support.clock import Instant, clock_fixture

frozen_clock = clock_fixture(scope="module")


@pytest.fixture(scope="module")
def sandbox_config(frozen_clock: Instant) -> SandboxConfig:
    """The sandbox (and its demo company) is made inside the frozen clock, in the instant's zone."""
    return make_config(timezone=frozen_clock.zone)


def _cdc(qbo: httpx.Client, entities: str, since: str) -> list[dict[str, Any]]:
    response = qbo.get("/cdc", params={"entities": entities, "changedSince": since})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"CDCResponse", "time"}
    sections: list[dict[str, Any]] = body["CDCResponse"][0]["QueryResponse"]
    return sections


def _section(sections: list[dict[str, Any]], entity: str) -> list[dict[str, Any]]:
    found = [s for s in sections if entity in s]
    assert len(found) == 1, sections
    assert found[0]["startPosition"] == 1
    assert found[0]["maxResults"] == len(found[0][entity])
    rows: list[dict[str, Any]] = found[0][entity]
    return rows


def _vendor_and_bill(qbo: httpx.Client, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    vendor = qbo.post("/vendor", json={"DisplayName": name}).json()["Vendor"]
    account = qbo.get("/query", params={"query": "SELECT * FROM Account WHERE Name = 'Rent'"}).json()
    line = {
        "Amount": 10,
        "DetailType": "AccountBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account["QueryResponse"]["Account"][0]["Id"]}},
    }
    bill = qbo.post("/bill", json={"VendorRef": {"value": vendor["Id"]}, "Line": [line]}).json()["Bill"]
    return vendor, bill


def test_changes_and_deletes_since_a_watermark(sandbox: RunningSandbox, qbo: httpx.Client) -> None:
    watermark = datetime.now(UTC) - timedelta(seconds=2)
    vendor, kept = _vendor_and_bill(qbo, "CDC Kept Vendor")
    _, doomed = _vendor_and_bill(qbo, "CDC Doomed Vendor")
    deleted = qbo.post("/bill", params={"operation": "delete"}, json={"Id": doomed["Id"], "SyncToken": "0"})
    assert deleted.status_code == 200

    sections = _cdc(qbo, "Bill,Vendor", watermark.isoformat())
    bills = {b["Id"]: b for b in _section(sections, "Bill")}
    assert bills[kept["Id"]]["TotalAmt"] == 10
    assert bills[kept["Id"]]["SyncToken"] == "0"
    stub = bills[doomed["Id"]]
    assert stub["status"] == "Deleted"
    assert stub["domain"] == "QBO"
    assert stub["MetaData"]["LastUpdatedTime"]
    assert set(stub) == {"Id", "status", "domain", "MetaData"}
    assert vendor["Id"] in {v["Id"] for v in _section(sections, "Vendor")}


def test_changed_since_formats(sandbox: RunningSandbox, qbo: httpx.Client) -> None:
    _vendor_and_bill(qbo, "CDC Formats Vendor")
    local = datetime.now(ZoneInfo(sandbox.state.config.timezone)) - timedelta(minutes=5)
    for since in (
        local.isoformat(timespec="seconds"),
        local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        local.strftime("%Y-%m-%dT%H:%M:%S"),  # no offset: company time
        local.date().isoformat(),
    ):
        names = {v["DisplayName"] for v in _section(_cdc(qbo, "Vendor", since), "Vendor")}
        assert "CDC Formats Vendor" in names, since


def test_nothing_changed_shape(qbo: httpx.Client) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _cdc(qbo, "Bill,Invoice", future) == [{}]


def test_the_demo_history_ends_before_now(sandbox: RunningSandbox) -> None:
    """A realm made now, read back at once: nothing in it changed after the moment it is asked."""
    created = sandbox.admin().post("/_sandbox/realms", json={"scenario": "tight", "seed": 5})
    assert created.status_code == 201, created.text
    client = sandbox.client(created.json()["realm_id"])
    entities = "Account,Vendor,Customer,Bill,BillPayment,Invoice,Payment,Purchase,Deposit"
    assert _cdc(client, entities, datetime.now(UTC).isoformat()) == [{}]
    recent = _cdc(client, entities, (datetime.now(UTC) - timedelta(days=2)).isoformat())
    stamps = [
        datetime.fromisoformat(row["MetaData"]["LastUpdatedTime"])
        for section in recent
        for rows in section.values()
        if isinstance(rows, list)
        for row in rows
    ]
    assert stamps, "the history runs up to the last days"
    assert max(stamps) <= datetime.now(UTC)


def test_lookback_limit_and_missing_parameters(qbo: httpx.Client) -> None:
    too_old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    response = qbo.get("/cdc", params={"entities": "Bill", "changedSince": too_old})
    assert response.status_code == 400
    assert "older than fixed days is not supported" in response.json()["Fault"]["Error"][0]["Detail"]
    assert qbo.get("/cdc", params={"entities": "Bill"}).status_code == 400
    assert qbo.get("/cdc", params={"changedSince": datetime.now(UTC).isoformat()}).status_code == 400
    bad_entity = qbo.get("/cdc", params={"entities": "Gizmo", "changedSince": datetime.now(UTC).isoformat()})
    assert bad_entity.status_code == 400
