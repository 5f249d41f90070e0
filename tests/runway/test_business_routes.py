"""Businesses and members over real HTTP: tenancy (404 for strangers), roles (403), last-owner rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Account


def create_business(account: Account, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Acme Design LLC", "timezone": "America/New_York", **overrides}
    response = account.client.post("/api/businesses", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_member(owner: Account, business_id: str, member: Account, role: str) -> None:
    response = owner.client.post(f"/api/businesses/{business_id}/members", json={"email": member.email, "role": role})
    assert response.status_code == 201, response.text


def test_creator_owns_the_business_and_sees_it_listed(make_account: Callable[..., Account]) -> None:
    owner = make_account()
    business = create_business(owner, currency="eur")

    assert business["role"] == "owner"
    assert business["currency"] == "EUR"
    assert business["qbo_realm_id"] is None
    listed = owner.client.get("/api/businesses").json()
    assert [entry["id"] for entry in listed] == [business["id"]]
    members = owner.client.get(f"/api/businesses/{business['id']}/members").json()
    assert [(member["email"], member["role"]) for member in members] == [(owner.email, "owner")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"currency": "XYZ"}, "currency"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_business_fields_are_named(
    make_account: Callable[..., Account], overrides: dict[str, str], field: str
) -> None:
    response = make_account().client.post("/api/businesses", json={"name": "Acme", "timezone": "UTC", **overrides})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_another_users_business_is_not_found(make_account: Callable[..., Account]) -> None:
    owner, stranger = make_account("owner"), make_account("stranger")
    business_id = create_business(owner)["id"]

    for method, path in [
        ("GET", f"/api/businesses/{business_id}"),
        ("PATCH", f"/api/businesses/{business_id}"),
        ("GET", f"/api/businesses/{business_id}/members"),
        ("DELETE", f"/api/businesses/{business_id}/members/{owner.user_id}"),
    ]:
        response = stranger.client.request(method, path, json={"name": "Mine now"} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "business_not_found"
    assert stranger.client.get("/api/businesses").json() == []
    assert owner.client.get(f"/api/businesses/{business_id}").json()["name"] == "Acme Design LLC"


def test_unauthenticated_business_routes_are_401(make_account: Callable[..., Account]) -> None:
    owner = make_account()
    business_id = create_business(owner)["id"]
    owner.client.headers.pop("Cookie")
    assert owner.client.get(f"/api/businesses/{business_id}").status_code == 401


def test_viewer_reads_but_cannot_write(make_account: Callable[..., Account]) -> None:
    owner, viewer = make_account("owner"), make_account("viewer")
    business_id = create_business(owner)["id"]
    add_member(owner, business_id, viewer, "viewer")

    assert viewer.client.get(f"/api/businesses/{business_id}").json()["role"] == "viewer"
    patch = viewer.client.patch(f"/api/businesses/{business_id}", json={"name": "Renamed"})
    assert patch.status_code == 403
    assert patch.json()["error"]["code"] == "permission_denied"
    assert (
        viewer.client.post(
            f"/api/businesses/{business_id}/members", json={"email": owner.email, "role": "viewer"}
        ).status_code
        == 403
    )
    assert owner.client.get(f"/api/businesses/{business_id}").json()["name"] == "Acme Design LLC"


def test_an_advisor_edits_the_business_only_once_the_owner_lets_them_act(make_account: Callable[..., Account]) -> None:
    owner, advisor, other = make_account("owner"), make_account("advisor"), make_account("other")
    business_id = create_business(owner)["id"]
    add_member(owner, business_id, advisor, "advisor")
    business_url, members_url = f"/api/businesses/{business_id}", f"/api/businesses/{business_id}/members"
    assert advisor.client.get(business_url).json()["may_act"] is False

    refused = advisor.client.patch(business_url, json={"timezone": "Europe/London"})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "This needs the owner role, or the advisor role with the owner's permission to act; yours is advisor "
        "without permission to act."
    )
    allowed = owner.client.patch(f"{members_url}/{advisor.user_id}", json={"may_act": True})
    assert (allowed.json()["role"], allowed.json()["may_act"]) == ("advisor", True)

    patched = advisor.client.patch(business_url, json={"timezone": "Europe/London"})
    assert patched.status_code == 200
    assert (patched.json()["timezone"], patched.json()["may_act"]) == ("Europe/London", True)
    # Acting is not managing: members stay the owner's.
    response = advisor.client.post(members_url, json={"email": other.email, "role": "viewer"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This needs the owner role; yours is advisor allowed to act."
    assert advisor.client.patch(f"{members_url}/{advisor.user_id}", json={"may_act": False}).status_code == 403


def test_only_an_advisor_can_be_allowed_to_act_and_a_new_role_withdraws_it(
    make_account: Callable[..., Account],
) -> None:
    owner, member = make_account("owner"), make_account("member")
    business_id = create_business(owner)["id"]
    members_url = f"/api/businesses/{business_id}/members"
    viewer_that_acts = owner.client.post(members_url, json={"email": member.email, "role": "viewer", "may_act": True})
    assert viewer_that_acts.status_code == 422
    assert viewer_that_acts.json()["error"]["field"] == "may_act"
    added = owner.client.post(members_url, json={"email": member.email, "role": "advisor", "may_act": True})
    assert (added.status_code, added.json()["may_act"]) == (201, True)
    empty = owner.client.patch(f"{members_url}/{member.user_id}", json={})
    assert (empty.status_code, empty.json()["error"]["message"]) == (422, "send a role, may_act, or both")

    demoted = owner.client.patch(f"{members_url}/{member.user_id}", json={"role": "viewer"}).json()
    assert (demoted["role"], demoted["may_act"]) == ("viewer", False)
    promoted = owner.client.patch(f"{members_url}/{member.user_id}", json={"role": "advisor"}).json()
    assert (promoted["role"], promoted["may_act"]) == ("advisor", False)  # not silently restored
    both = owner.client.patch(f"{members_url}/{member.user_id}", json={"role": "advisor", "may_act": True}).json()
    assert both["may_act"] is True
    promoting_viewer = owner.client.patch(f"{members_url}/{member.user_id}", json={"role": "viewer", "may_act": True})
    assert (promoting_viewer.status_code, promoting_viewer.json()["error"]["field"]) == (422, "may_act")
    # Owners act whatever the flag says.
    assert owner.client.patch(f"{members_url}/{owner.user_id}", json={"may_act": False}).json()["may_act"] is True


def test_owner_manages_members(make_account: Callable[..., Account]) -> None:
    owner, member = make_account("owner"), make_account("member")
    business_id = create_business(owner)["id"]
    members_url = f"/api/businesses/{business_id}/members"
    add_member(owner, business_id, member, "viewer")

    again = owner.client.post(members_url, json={"email": member.email.upper(), "role": "advisor"})
    assert again.status_code == 409
    unknown = owner.client.post(members_url, json={"email": "nobody-here@example.com", "role": "viewer"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "email"
    bad_role = owner.client.post(members_url, json={"email": member.email, "role": "admin"})
    assert bad_role.json()["error"]["field"] == "role"

    promoted = owner.client.patch(f"{members_url}/{member.user_id}", json={"role": "advisor"})
    assert promoted.json()["role"] == "advisor"
    assert member.client.get(f"/api/businesses/{business_id}").json()["role"] == "advisor"

    assert owner.client.delete(f"{members_url}/{member.user_id}").status_code == 204
    assert member.client.get(f"/api/businesses/{business_id}").status_code == 404
    assert owner.client.delete(f"{members_url}/{member.user_id}").status_code == 404


def test_last_owner_can_be_neither_removed_nor_demoted(make_account: Callable[..., Account]) -> None:
    owner, second = make_account("owner"), make_account("second")
    business_id = create_business(owner)["id"]
    members_url = f"/api/businesses/{business_id}/members"

    removed = owner.client.delete(f"{members_url}/{owner.user_id}")
    assert removed.status_code == 409
    assert removed.json()["error"]["code"] == "last_owner"
    assert owner.client.patch(f"{members_url}/{owner.user_id}", json={"role": "viewer"}).status_code == 409

    add_member(owner, business_id, second, "owner")
    assert owner.client.patch(f"{members_url}/{owner.user_id}", json={"role": "viewer"}).status_code == 200
    assert second.client.delete(f"{members_url}/{second.user_id}").status_code == 409
    roles = {member["email"]: member["role"] for member in second.client.get(members_url).json()}
    assert roles == {owner.email: "viewer", second.email: "owner"}
