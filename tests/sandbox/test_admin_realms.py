"""Realm administration: list, create per scenario, describe, reset, and clear 4xx answers for bad requests."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import RunningSandbox


def test_a_created_realm_is_listed_described_and_reset(sandbox: RunningSandbox) -> None:
    admin = sandbox.admin()
    created = admin.post("/_sandbox/realms", json={"scenario": "tight", "seed": 3})
    assert created.status_code == 201
    realm_id = created.json()["realm_id"]
    assert realm_id in [realm["realm_id"] for realm in admin.get("/_sandbox/realms").json()["realms"]]
    assert admin.get(f"/_sandbox/realms/{realm_id}").json()["scenario"] == "tight"

    qbo = sandbox.client(realm_id)
    qbo.post("/vendor", json={"DisplayName": "Added Before Reset"}).raise_for_status()
    assert admin.post(f"/_sandbox/realms/{realm_id}/reset").status_code == 200
    found = qbo.get("/query", params={"query": "select * from Vendor where DisplayName = 'Added Before Reset'"})
    assert found.json()["QueryResponse"] == {}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"scenario": "boom"}, "scenario"),
        ({"scenario": "healthy", "seed": "x"}, "seed"),
        ({"scenario": "healthy", "size": 0}, "size"),
        ({"scenario": "healthy", "size": 50}, "size"),
    ],
)
def test_bad_realm_requests_get_422_naming_the_problem(
    sandbox: RunningSandbox, body: dict[str, object], names: str
) -> None:
    answer = sandbox.admin().post("/_sandbox/realms", json=body)
    assert answer.status_code == 422
    assert names in answer.text


def test_unknown_realms_are_404(sandbox: RunningSandbox) -> None:
    assert sandbox.admin().get("/_sandbox/realms/1").status_code == 404
    assert sandbox.admin().post("/_sandbox/realms/1/reset").status_code == 404
