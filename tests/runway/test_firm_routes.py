"""Advisor firms over real HTTP: admins manage members; an owner engages a firm, and its members then reach the
business as advisors (acting only when the owner allows it) until the owner ends the engagement."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Account
from tests.runway.test_business_routes import add_member, create_business


def create_firm(admin: Account, name: str = "Ledgerline Advisors") -> dict[str, Any]:
    response = admin.client.post("/api/firms", json={"name": name})
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_firm_member(admin: Account, firm_id: str, member: Account, role: str = "advisor") -> None:
    response = admin.client.post(f"/api/firms/{firm_id}/members", json={"email": member.email, "role": role})
    assert response.status_code == 201, response.text


def engage(owner: Account, business_id: str, firm_id: str, *, advisors_may_act: bool = False) -> dict[str, Any]:
    response = owner.client.post(
        f"/api/businesses/{business_id}/firms", json={"firm_id": firm_id, "advisors_may_act": advisors_may_act}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@dataclass
class Engaged:
    """A business whose owner engaged a firm with an admin and an advisor."""

    owner: Account
    admin: Account
    advisor: Account
    business_id: str
    firm_id: str


@pytest.fixture
def engaged(make_account: Callable[..., Account]) -> Engaged:
    owner, admin, advisor = make_account("owner"), make_account("firm-admin"), make_account("firm-advisor")
    business_id = create_business(owner, name="Northwind Studio")["id"]
    firm_id = create_firm(admin)["id"]
    add_firm_member(admin, firm_id, advisor)
    engage(owner, business_id, firm_id)
    return Engaged(owner, admin, advisor, business_id, firm_id)


def test_the_creator_administers_the_firm_and_only_admins_manage_its_members(
    make_account: Callable[..., Account],
) -> None:
    admin, advisor, other, stranger = (make_account(label) for label in ("admin", "advisor", "other", "stranger"))
    firm = create_firm(admin)
    firm_url = f"/api/firms/{firm['id']}"
    assert firm["role"] == "admin"
    assert [(listed["id"], listed["role"]) for listed in admin.client.get("/api/firms").json()] == [
        (firm["id"], "admin")
    ]

    add_firm_member(admin, firm["id"], advisor)
    again = admin.client.post(f"{firm_url}/members", json={"email": advisor.email.upper()})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_firm_member")
    unknown = admin.client.post(f"{firm_url}/members", json={"email": "nobody-at-all@example.com"})
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (422, "email")
    refused = advisor.client.post(f"{firm_url}/members", json={"email": other.email})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This needs the firm's admin role; yours is advisor."
    members = advisor.client.get(f"{firm_url}/members").json()
    assert {(member["email"], member["role"]) for member in members} == {
        (admin.email, "admin"),
        (advisor.email, "advisor"),
    }

    for method, path in [("GET", firm_url), ("GET", f"{firm_url}/members"), ("GET", f"{firm_url}/clients")]:
        response = stranger.client.request(method, path)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "firm_not_found"), path
    assert stranger.client.get("/api/firms").json() == []

    last = admin.client.delete(f"{firm_url}/members/{admin.user_id}")
    assert (last.status_code, last.json()["error"]["code"]) == (409, "last_firm_admin")
    assert admin.client.patch(f"{firm_url}/members/{admin.user_id}", json={"role": "advisor"}).status_code == 409
    promoted = admin.client.patch(f"{firm_url}/members/{advisor.user_id}", json={"role": "admin"})
    assert promoted.json()["role"] == "admin"
    assert advisor.client.delete(f"{firm_url}/members/{admin.user_id}").status_code == 204
    assert admin.client.get(firm_url).status_code == 404
    assert admin.client.delete(f"{firm_url}/members/{admin.user_id}").status_code == 404


def test_an_engaged_firms_advisors_see_the_business_and_act_only_when_the_owner_allows(engaged: Engaged) -> None:
    advisor, owner = engaged.advisor, engaged.owner
    business_url = f"/api/businesses/{engaged.business_id}"

    listed = {entry["id"]: entry for entry in advisor.client.get("/api/businesses").json()}
    assert (listed[engaged.business_id]["role"], listed[engaged.business_id]["firm_id"]) == ("advisor", engaged.firm_id)
    seen = advisor.client.get(business_url).json()
    assert (seen["name"], seen["role"], seen["may_act"]) == ("Northwind Studio", "advisor", False)
    assert advisor.client.get(f"{business_url}/members").status_code == 200
    # Proposing passes the role check (here "sync now" then finds QuickBooks not connected); acting does not.
    assert advisor.client.post(f"{business_url}/sync").json()["error"]["code"] == "qbo_not_connected"
    refused = advisor.client.patch(business_url, json={"name": "Renamed by the firm"})
    assert refused.status_code == 403
    assert "yours is advisor without permission to act" in refused.json()["error"]["message"]

    allowed = owner.client.patch(f"{business_url}/firms/{engaged.firm_id}", json={"advisors_may_act": True})
    assert allowed.json()["advisors_may_act"] is True
    assert advisor.client.patch(business_url, json={"name": "Renamed by the firm"}).status_code == 200
    clients = advisor.client.get(f"/api/firms/{engaged.firm_id}/clients").json()
    assert [(client["business_id"], client["role"], client["may_act"]) for client in clients] == [
        (engaged.business_id, "advisor", True)
    ]
    assert (
        advisor.client.post(f"{business_url}/members", json={"email": advisor.email, "role": "owner"}).status_code
        == 403
    )

    assert owner.client.delete(f"{business_url}/firms/{engaged.firm_id}").status_code == 204
    assert advisor.client.get(business_url).status_code == 404
    assert advisor.client.get("/api/businesses").json() == []
    assert advisor.client.get(f"/api/firms/{engaged.firm_id}/clients").json() == []


def test_a_firm_member_reaches_the_clients_while_a_member_and_only_those(
    engaged: Engaged, make_account: Callable[..., Account]
) -> None:
    newcomer, other_owner = make_account("newcomer"), make_account("other-owner")
    other_business = create_business(other_owner, name="Elsewhere Ltd")["id"]
    business_url = f"/api/businesses/{engaged.business_id}"
    assert newcomer.client.get(business_url).status_code == 404

    add_firm_member(engaged.admin, engaged.firm_id, newcomer)
    assert newcomer.client.get(business_url).json()["role"] == "advisor"
    assert engaged.admin.client.get(business_url).json()["role"] == "advisor"  # admins serve clients as advisors
    for member in (newcomer, engaged.advisor, engaged.admin):
        response = member.client.get(f"/api/businesses/{other_business}")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "business_not_found")
        assert [entry["id"] for entry in member.client.get("/api/businesses").json()] == [engaged.business_id]

    removed = engaged.admin.client.delete(f"/api/firms/{engaged.firm_id}/members/{newcomer.user_id}")
    assert removed.status_code == 204
    assert newcomer.client.get(business_url).status_code == 404


def test_a_direct_membership_and_a_firm_engagement_combine_to_the_stronger(engaged: Engaged) -> None:
    business_url = f"/api/businesses/{engaged.business_id}"
    add_member(engaged.owner, engaged.business_id, engaged.advisor, "viewer")
    # A viewer in their own right, an advisor through the firm: they advise.
    assert engaged.advisor.client.get(business_url).json()["role"] == "advisor"
    engaged.owner.client.patch(f"{business_url}/members/{engaged.advisor.user_id}", json={"role": "owner"})
    seen = engaged.advisor.client.get(business_url).json()
    assert (seen["role"], seen["may_act"], seen["firm_id"]) == ("owner", True, None)
    clients = engaged.advisor.client.get(f"/api/firms/{engaged.firm_id}/clients").json()
    assert [(client["role"], client["may_act"]) for client in clients] == [("owner", True)]


def test_only_owners_engage_firms_and_mistakes_are_named(
    engaged: Engaged, make_account: Callable[..., Account]
) -> None:
    acting_advisor, viewer = make_account("acting-advisor"), make_account("viewer")
    add_member(engaged.owner, engaged.business_id, viewer, "viewer")
    response = engaged.owner.client.post(
        f"/api/businesses/{engaged.business_id}/members",
        json={"email": acting_advisor.email, "role": "advisor", "may_act": True},
    )
    assert response.status_code == 201
    firms_url = f"/api/businesses/{engaged.business_id}/firms"
    other_firm = create_firm(make_account("other-admin"), "Other Firm")["id"]

    for caller in (acting_advisor, viewer, engaged.advisor):
        refused = caller.client.post(firms_url, json={"firm_id": other_firm})
        assert refused.status_code == 403
        assert refused.json()["error"]["message"].startswith("This needs the owner role; yours is ")
        assert caller.client.delete(f"{firms_url}/{engaged.firm_id}").status_code == 403
    assert [firm["firm_id"] for firm in viewer.client.get(firms_url).json()] == [engaged.firm_id]

    twice = engaged.owner.client.post(firms_url, json={"firm_id": engaged.firm_id})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_engaged")
    unknown = engaged.owner.client.post(firms_url, json={"firm_id": str(uuid.uuid4())})
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (422, "firm_id")
    not_a_uuid = engaged.owner.client.post(firms_url, json={"firm_id": "ledgerline"})
    assert (not_a_uuid.status_code, not_a_uuid.json()["error"]["field"]) == (422, "firm_id")
    for method in ("PATCH", "DELETE"):
        missing = engaged.owner.client.request(
            method, f"{firms_url}/{other_firm}", json={"advisors_may_act": True} if method == "PATCH" else None
        )
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "engagement_not_found")
    assert [firm["firm_name"] for firm in engaged.owner.client.get(firms_url).json()] == ["Ledgerline Advisors"]
