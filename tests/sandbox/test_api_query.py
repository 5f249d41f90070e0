"""Queries over real HTTP: response shapes, GET and POST transports, COUNT, faults and paging at 1000."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from oodaloo.sandbox.config import SandboxConfig
from tests.sandbox.conftest import make_config


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    # Big enough that some entity has more than one 1000-row page.
    return make_config(size=4000)


def _query(qbo: httpx.Client, sql: str) -> dict[str, Any]:
    response = qbo.get("/query", params={"query": sql})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    body: dict[str, Any] = response.json()
    assert set(body) == {"QueryResponse", "time"}
    return body["QueryResponse"]  # type: ignore[no-any-return]


def test_select_shape_and_company_offset_time(qbo: httpx.Client) -> None:
    response = qbo.get("/query", params={"query": "select * from Vendor maxresults 3"})
    body = response.json()
    assert set(body["QueryResponse"]) == {"Vendor", "startPosition", "maxResults"}
    assert body["QueryResponse"]["startPosition"] == 1
    assert body["QueryResponse"]["maxResults"] == 3
    assert len(body["QueryResponse"]["Vendor"]) == 3
    assert body["time"][23] in "+-"
    assert body["time"][19] == "."


def test_empty_result_has_no_keys(qbo: httpx.Client) -> None:
    assert _query(qbo, "SELECT * FROM Bill WHERE DocNumber = 'no-such-number'") == {}
    assert _query(qbo, "SELECT * FROM Bill STARTPOSITION 999999") == {}


def test_count_with_and_without_where(qbo: httpx.Client) -> None:
    everything = _query(qbo, "SELECT COUNT(*) FROM Invoice")
    open_only = _query(qbo, "SELECT COUNT(*) FROM Invoice WHERE Balance > '0'")
    assert set(everything) == {"totalCount"}
    assert everything["totalCount"] > open_only["totalCount"] > 0


def test_not_equal_is_the_complement_of_equal_for_present_values(qbo: httpx.Client) -> None:
    total = _query(qbo, "SELECT COUNT(*) FROM Invoice")["totalCount"]
    paid = _query(qbo, "SELECT COUNT(*) FROM Invoice WHERE Balance = '0'")["totalCount"]
    unpaid = _query(qbo, "SELECT COUNT(*) FROM Invoice WHERE Balance != '0'")["totalCount"]
    assert paid > 0
    assert unpaid > 0
    assert paid + unpaid == total
    rows = _query(qbo, "SELECT * FROM Account WHERE AccountType != 'Bank' MAXRESULTS 1000")["Account"]
    assert rows
    assert all(row["AccountType"] != "Bank" for row in rows)


def test_post_with_application_text_body(qbo: httpx.Client) -> None:
    response = qbo.post(
        "/query", content=b"SELECT * FROM Account WHERE Name = 'Checking'", headers={"Content-Type": "application/text"}
    )
    assert response.status_code == 200
    assert [a["Name"] for a in response.json()["QueryResponse"]["Account"]] == ["Checking"]


def test_form_encoded_plus_for_spaces(qbo: httpx.Client) -> None:
    url = "/query?query=SELECT+*+FROM+Term+WHERE+Name+%3D+%27Net+30%27"
    response = qbo.get(url)
    assert response.status_code == 200, response.text
    rows = response.json()["QueryResponse"]["Term"]
    assert [t["Name"] for t in rows] == ["Net 30"]


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("", "4000"),
        ("SELECT * FROM Bill WHERE", "4000"),
        ("SELECT * FROM Bill MAXRESULTS 1500", "4001"),
        ("SELECT * FROM Gizmo", "4001"),
    ],
)
def test_bad_queries_fault(qbo: httpx.Client, sql: str, code: str) -> None:
    response = qbo.get("/query", params={"query": sql})
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == code
    assert error["Message"]


def test_paging_by_1000_walks_every_row_once(qbo: httpx.Client) -> None:
    counts = {e: _query(qbo, f"SELECT COUNT(*) FROM {e}")["totalCount"] for e in ("Invoice", "Payment", "Purchase")}
    entity, total = max(counts.items(), key=lambda item: item[1])
    assert total > 1000
    seen: list[str] = []
    start = 1
    for _ in range(total // 1000 + 2):
        page = _query(qbo, f"SELECT * FROM {entity} ORDERBY TxnDate STARTPOSITION {start} MAXRESULTS 1000")
        if entity not in page:
            break
        assert page["maxResults"] == len(page[entity]) <= 1000
        assert page["startPosition"] == start
        seen += [row["Id"] for row in page[entity]]
        start += len(page[entity])
    assert len(seen) == total == len(set(seen))
