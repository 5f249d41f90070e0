"""Who gets which Friday digest: a business's goes to the people who read it as their own (its owners and viewers);
an advisor's covers every business they reach as an advisor — directly or through a firm the business engaged, by
the same rule as access (``access.py``: the strongest grant wins, so an owner who is also a firm advisor of their own
business gets its business digest, not a line in an advisor's)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.access import Grant, direct_grant, firm_grant
from oodaloo.domains.core.models import Business, FirmEngagement, FirmMember, Membership, Role, User

# The roles whose members receive a business's own digest (advisors get theirs, covering all their clients).
BUSINESS_DIGEST_ROLES = (Role.OWNER, Role.VIEWER)
# RFC 2606 reserves .invalid: mail there can never arrive (the test drive's guests have such addresses), so none is
# sent — a relay would only bounce it.
UNDELIVERABLE_DOMAIN = ".invalid"


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    name: str
    email: str

    @property
    def address(self) -> str:
        """``Name <email>``, as a To header lists it."""
        return formataddr((self.name, self.email))


async def business_recipients(session: AsyncSession, business_id: uuid.UUID) -> list[Recipient]:
    """The business's owners and viewers (direct members), oldest membership first."""
    statement = (
        select(User.id, User.display_name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.business_id == business_id, Membership.role.in_(BUSINESS_DIGEST_ROLES))
        .order_by(Membership.created_at, User.id)
    )
    found = [Recipient(user_id, name, email) for user_id, name, email in (await session.execute(statement)).all()]
    return [person for person in found if deliverable(person.email)]


async def recipient(session: AsyncSession, user_id: uuid.UUID) -> Recipient | None:
    user = await session.get(User, user_id)
    if user is None or not deliverable(user.email):
        return None
    return Recipient(user.id, user.display_name, user.email)


def deliverable(email: str) -> bool:
    return not email.lower().endswith(UNDELIVERABLE_DOMAIN)


async def advisor_client_zones(session: AsyncSession) -> dict[uuid.UUID, dict[uuid.UUID, str]]:
    """Every advisor (by user id) with the businesses they advise, each with its time zone."""
    grants: dict[tuple[uuid.UUID, uuid.UUID], Grant] = {}
    zones: dict[uuid.UUID, str] = {}
    direct = select(Membership.user_id, Membership.business_id, Membership.role, Membership.may_act, Business.timezone)
    for user_id, business_id, role, may_act, zone in (
        await session.execute(direct.join(Business, Business.id == Membership.business_id))
    ).all():
        grants[(user_id, business_id)] = direct_grant(role, may_act).strongest(grants.get((user_id, business_id)))
        zones[business_id] = zone
    engaged = (
        select(FirmMember.user_id, FirmEngagement.business_id, FirmEngagement.firm_id, Business.timezone)
        .join(FirmEngagement, FirmEngagement.firm_id == FirmMember.firm_id)
        .join(Business, Business.id == FirmEngagement.business_id)
    )
    for user_id, business_id, firm_id, zone in (await session.execute(engaged)).all():
        grants[(user_id, business_id)] = firm_grant(firm_id, False).strongest(grants.get((user_id, business_id)))
        zones[business_id] = zone
    clients: dict[uuid.UUID, dict[uuid.UUID, str]] = {}
    for (user_id, business_id), grant in grants.items():
        if grant.role is Role.ADVISOR:
            clients.setdefault(user_id, {})[business_id] = zones[business_id]
    return clients


def advisor_zone(client_zones: list[str], now: datetime) -> str:
    """The time zone an advisor's digest keeps: the one most of their clients share (an advisor works where most of
    their clients are); of zones equally shared, the one furthest ahead of UTC now (its Friday morning comes first, so
    the digest is not held back by a client far to the west)."""
    counts = Counter(client_zones)
    return max(counts, key=lambda zone: (counts[zone], _utc_offset(zone, now), zone))


def _utc_offset(zone: str, now: datetime) -> timedelta:
    return now.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
