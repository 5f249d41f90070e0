"""The role rules: what owners, advisors (allowed to act or not, directly or through a firm) and viewers may do, how a
user's grants combine, and what a refusal says."""

from __future__ import annotations

import uuid

import pytest

from oodaloo.domains.core.access import Capability, Grant, direct_grant, firm_grant
from oodaloo.domains.core.models import Role

FIRM = uuid.uuid4()
R, P, A, M = Capability.READ, Capability.PROPOSE, Capability.ACT, Capability.MANAGE


@pytest.mark.parametrize(
    ("grant", "allowed"),
    [
        (direct_grant(Role.OWNER, may_act=False), {R, P, A, M}),
        (direct_grant(Role.ADVISOR, may_act=True), {R, P, A}),
        (direct_grant(Role.ADVISOR, may_act=False), {R, P}),
        (direct_grant(Role.VIEWER, may_act=False), {R}),
        (firm_grant(FIRM, advisors_may_act=True), {R, P, A}),
        (firm_grant(FIRM, advisors_may_act=False), {R, P}),
    ],
    ids=["owner", "advisor-may-act", "advisor", "viewer", "firm-advisor-may-act", "firm-advisor"],
)
def test_each_role_has_exactly_its_capabilities(grant: Grant, allowed: set[Capability]) -> None:
    assert {capability for capability in Capability if grant.allows(capability)} == allowed


def test_a_permission_to_act_means_nothing_for_owners_and_viewers() -> None:
    # A stale flag left on a viewer (demoted from advisor) must not let them act.
    assert not direct_grant(Role.VIEWER, may_act=True).allows(Capability.ACT)
    assert direct_grant(Role.OWNER, may_act=False).allows(Capability.ACT)
    assert direct_grant(Role.OWNER, may_act=True) == direct_grant(Role.OWNER, may_act=False)


def test_the_strongest_grant_wins_and_an_advisor_may_act_if_any_grant_allows_it() -> None:
    viewer = direct_grant(Role.VIEWER, may_act=False)
    advisor = direct_grant(Role.ADVISOR, may_act=False)
    owner = direct_grant(Role.OWNER, may_act=False)
    acting_firm = firm_grant(FIRM, advisors_may_act=True)
    proposing_firm = firm_grant(FIRM, advisors_may_act=False)

    assert acting_firm.strongest(owner) == owner
    assert owner.strongest(acting_firm) == owner
    assert proposing_firm.strongest(viewer) == proposing_firm  # a viewer whose firm is engaged advises
    assert acting_firm.strongest(advisor) == acting_firm
    assert advisor.strongest(acting_firm) == acting_firm
    assert proposing_firm.strongest(advisor).allows(Capability.PROPOSE)
    assert not proposing_firm.strongest(advisor).allows(Capability.ACT)
    assert advisor.strongest(None) == advisor


@pytest.mark.parametrize(
    ("grant", "capability", "message"),
    [
        (
            direct_grant(Role.VIEWER, may_act=False),
            Capability.PROPOSE,
            "This needs the advisor or owner role; yours is viewer.",
        ),
        (
            direct_grant(Role.ADVISOR, may_act=False),
            Capability.ACT,
            "This needs the owner role, or the advisor role with the owner's permission to act; yours is advisor "
            "without permission to act.",
        ),
        (
            direct_grant(Role.ADVISOR, may_act=True),
            Capability.MANAGE,
            "This needs the owner role; yours is advisor allowed to act.",
        ),
    ],
)
def test_a_refusal_names_the_role_needed_and_the_callers(grant: Grant, capability: Capability, message: str) -> None:
    assert not grant.allows(capability)
    assert grant.refusal(capability) == message
