"""The audit log over real HTTP: what owners changed (members, permissions, firms, the business itself), who did it,
newest first, a page at a time; every member reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Account
from tests.runway.test_business_routes import add_member, create_business
from tests.runway.test_firm_routes import add_firm_member, create_firm, engage


def audit(account: Account, business_id: str, **params: Any) -> dict[str, Any]:
    response = account.client.get(f"/api/businesses/{business_id}/audit", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_changes_to_who_reaches_a_business_are_logged_newest_first_with_who_made_them(
    make_account: Callable[..., Account],
) -> None:
    owner, advisor, viewer, firm_admin, firm_advisor = (
        make_account(label) for label in ("owner", "advisor", "viewer", "firm-admin", "firm-advisor")
    )
    business_id = create_business(owner)["id"]
    members_url = f"/api/businesses/{business_id}/members"
    add_member(owner, business_id, advisor, "advisor")
    owner.client.patch(f"{members_url}/{advisor.user_id}", json={"may_act": True})
    add_member(owner, business_id, viewer, "viewer")
    firm = create_firm(firm_admin, "Ledgerline Advisors")
    engage(owner, business_id, firm["id"])
    add_firm_member(firm_admin, firm["id"], firm_advisor)
    owner.client.patch(f"/api/businesses/{business_id}/firms/{firm['id']}", json={"advisors_may_act": True})
    advisor.client.patch(f"/api/businesses/{business_id}", json={"name": "Acme Design Group"})
    owner.client.delete(f"/api/businesses/{business_id}/firms/{firm['id']}")
    owner.client.delete(f"{members_url}/{viewer.user_id}")

    events = audit(advisor, business_id)["events"]
    assert [(event["action"], event["actor"]["email"]) for event in events] == [
        ("member.removed", owner.email),
        ("firm.disengaged", owner.email),
        ("business.updated", advisor.email),
        ("firm.permission_changed", owner.email),
        ("firm.member_added", firm_admin.email),
        ("firm.engaged", owner.email),
        ("member.added", owner.email),
        ("member.permission_changed", owner.email),
        ("member.added", owner.email),
        ("business.created", owner.email),
    ]
    by_action = {event["action"]: event for event in reversed(events)}
    assert by_action["business.updated"]["detail"] == {"name": {"from": "Acme Design LLC", "to": "Acme Design Group"}}
    assert by_action["member.permission_changed"]["detail"] == {"email": advisor.email, "may_act": True}
    assert by_action["member.permission_changed"]["subject_id"] == advisor.user_id
    assert by_action["firm.engaged"]["detail"] == {"firm_name": "Ledgerline Advisors", "advisors_may_act": False}
    assert (by_action["firm.engaged"]["subject_type"], by_action["firm.engaged"]["subject_id"]) == ("firm", firm["id"])
    assert by_action["firm.member_added"]["detail"]["email"] == firm_advisor.email
    assert by_action["member.removed"]["detail"] == {"email": viewer.email, "role": "viewer"}
    # The removed viewer is no longer a member: the log is not theirs to read.
    assert viewer.client.get(f"/api/businesses/{business_id}/audit").status_code == 404


def test_pages_follow_the_cursor_to_the_end_without_gaps_or_repeats(make_account: Callable[..., Account]) -> None:
    owner, viewer = make_account("owner"), make_account("viewer")
    business_id = create_business(owner)["id"]
    add_member(owner, business_id, viewer, "viewer")
    for number in range(6):
        owner.client.patch(f"/api/businesses/{business_id}", json={"name": f"Name {number}"})
    everything = audit(viewer, business_id)
    assert len(everything["events"]) == 8
    assert everything["next_cursor"] is None

    seen: list[str] = []
    page = audit(viewer, business_id, limit=3)
    while True:
        assert len(page["events"]) <= 3
        seen += [event["id"] for event in page["events"]]
        if page["next_cursor"] is None:
            break
        page = audit(viewer, business_id, limit=3, cursor=page["next_cursor"])
    assert seen == [event["id"] for event in everything["events"]]
    assert [event["detail"]["name"]["to"] for event in everything["events"][:2]] == ["Name 5", "Name 4"]


def test_bad_paging_parameters_are_named(make_account: Callable[..., Account]) -> None:
    owner = make_account()
    business_id = create_business(owner)["id"]
    url = f"/api/businesses/{business_id}/audit"
    cases: list[tuple[dict[str, str | int], str]] = [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "YTotMQ"}, "cursor"),  # a well-formed encoding of a negative position
    ]
    for params, field in cases:
        response = owner.client.get(url, params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["field"] == field
