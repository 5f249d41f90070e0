"""Who may do what in a business: a user's grant (role, permission to act, whether it comes through a firm) and the
rules that turn it into capabilities. Pure: the lookup that builds a grant is ``BusinessService.access``.

- **owner**: reads, proposes, acts (pays, approves, executes) and manages members and firms.
- **advisor**: reads and proposes; acts only when the owner allowed it for this business (``may_act``). An advisor is
  a direct member, or a member of a firm the business engaged (the engagement carries the permission).
- **viewer**: reads.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from oodaloo.domains.core.models import Role


class Capability(enum.StrEnum):
    READ = "read"
    PROPOSE = "propose"  # prepare work for the owner: plans, proposals, a sync
    ACT = "act"  # change the books or move money: pay, approve, execute, connect QuickBooks
    MANAGE = "manage"  # members, firms and their permissions

    @property
    def needs(self) -> str:
        """Who has this capability, as a refusal names it."""
        return _NEEDS[self]


_NEEDS = {
    Capability.READ: "membership of the business",
    Capability.PROPOSE: "the advisor or owner role",
    Capability.ACT: "the owner role, or the advisor role with the owner's permission to act",
    Capability.MANAGE: "the owner role",
}


@dataclass(frozen=True)
class Grant:
    """What one user may do in one business.

    ``firm_id`` is set when the grant comes from a firm engagement (not from a stronger direct membership), so the
    console can say "as an advisor of <firm>".
    """

    role: Role
    may_act: bool = False
    firm_id: uuid.UUID | None = None
    # Why no one may act in this business, whatever their role (a read-only test drive: ``read_only.py``).
    read_only: str | None = None

    def allows(self, capability: Capability) -> bool:
        if capability is Capability.READ:
            return True
        if capability is Capability.ACT and self.read_only is not None:
            return False
        if self.role is Role.OWNER:
            return True
        if self.role is Role.ADVISOR:
            return capability is Capability.PROPOSE or (capability is Capability.ACT and self.may_act)
        return False

    @property
    def can_act(self) -> bool:
        return self.allows(Capability.ACT)

    def describe(self) -> str:
        """The caller's standing in a sentence's words: "owner", "advisor allowed to act", "viewer"."""
        if self.role is Role.ADVISOR:
            return "advisor allowed to act" if self.may_act else "advisor without permission to act"
        return self.role.value

    def refusal(self, capability: Capability) -> str:
        """Why this grant does not allow ``capability``: the role needed and the caller's (or why the business is
        read-only)."""
        if capability is Capability.ACT and self.read_only is not None:
            return self.read_only
        return f"This needs {capability.needs}; yours is {self.describe()}."

    def strongest(self, other: Grant | None) -> Grant:
        """The union of two grants of one user (a direct membership and firm engagements): the higher role; an
        advisor may act if any of the grants that make them an advisor allows it."""
        if other is None:
            return self
        if self.role.rank != other.role.rank:
            return self if self.role.rank > other.role.rank else other
        if self.role is not Role.ADVISOR or self.may_act or not other.may_act:
            return self
        return other


def direct_grant(role: Role, may_act: bool) -> Grant:
    """A membership's grant: only an advisor's permission to act means anything (owners always act, viewers never)."""
    return Grant(role, may_act=role is Role.ADVISOR and may_act)


def firm_grant(firm_id: uuid.UUID, advisors_may_act: bool) -> Grant:
    return Grant(Role.ADVISOR, may_act=advisors_may_act, firm_id=firm_id)
