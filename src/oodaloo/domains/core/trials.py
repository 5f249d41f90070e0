"""The test drive's trials in the database: the guest and the business a trial gives a visitor, the session that ends
with the trial, the pool of trials made ahead of visitors, expiry and removal (that no one changes a read-only trial's
books is ``read_only``). The flows that make, claim and remove trials over the network are in ``trial_flows``.

Services only ``flush()``; the boundary that opened the session commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business, User, UserSession
from oodaloo.domains.core.schemas import BusinessIn
from oodaloo.domains.core.service import BusinessService, StartedSession
from oodaloo.domains.core.trial_models import SpareRealm, Trial, TrialKind
from oodaloo.domains.qbo.mirror_models import SyncState
from oodaloo.infra.auth import tokens
from oodaloo.infra.db.repository import Repository

# RFC 2606's .invalid: no mail can ever reach a guest, and no one can sign up with such an address.
GUEST_EMAIL_DOMAIN = "trial.oodaloo.invalid"
GUEST_DISPLAY_NAME = "Test driver"
# Not an argon2 hash, so no password ever verifies against it: a guest enters only with their trial's session.
NO_PASSWORD = "!test-drive-guest"


@dataclass(frozen=True)
class NewTrial:
    """What a trial is made of: its kind, its business's name, zone and currency, and its times (see ``Trial``)."""

    kind: TrialKind
    business_name: str
    timezone: str
    currency: str
    expires_at: datetime
    claimed_at: datetime | None
    scenario: str | None = None
    realm_id: str | None = None


class TrialRepository(Repository[Trial]):
    model = Trial

    async def of_user(self, user_id: uuid.UUID) -> Trial | None:
        return await self.one_or_none(self.select().where(Trial.user_id == user_id))

    async def of_business(self, business_id: uuid.UUID) -> Trial | None:
        return await self.one_or_none(self.select().where(Trial.business_id == business_id))

    async def ready(self, scenario: str, now: datetime) -> Sequence[Trial]:
        """The pool's trials of ``scenario`` a visitor may take now (their first sync done), oldest first."""
        statement = (
            self.select()
            .join(SyncState, SyncState.business_id == Trial.business_id)
            .where(Trial.scenario == scenario, Trial.claimed_at.is_(None), Trial.expires_at > now)
            .where(SyncState.cdc_cursor.is_not(None), SyncState.realm_id == Trial.realm_id)
            .order_by(Trial.created_at, Trial.id)
        )
        return await self.all(statement)

    async def pooled(self, scenario: str, now: datetime) -> int:
        """The pool's trials of ``scenario``, ready or still syncing."""
        statement = select(func.count(Trial.id)).where(
            Trial.scenario == scenario, Trial.claimed_at.is_(None), Trial.expires_at > now
        )
        return int(await self.session.scalar(statement) or 0)

    async def live(self, now: datetime) -> int:
        """Trials visitors are driving now."""
        statement = select(func.count(Trial.id)).where(Trial.claimed_at.is_not(None), Trial.expires_at > now)
        return int(await self.session.scalar(statement) or 0)

    async def expired(self, now: datetime, limit: int) -> Sequence[Trial]:
        return await self.all(self.select().where(Trial.expires_at <= now).order_by(Trial.expires_at).limit(limit))


class TrialService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.trials = TrialRepository(session)

    async def create(self, new: NewTrial) -> Trial:
        """A guest user owning a new business, and the trial that ties them together."""
        guest = User(
            email=f"guest-{uuid.uuid4().hex}@{GUEST_EMAIL_DOMAIN}",
            password_hash=NO_PASSWORD,
            display_name=GUEST_DISPLAY_NAME,
        )
        self.session.add(guest)
        await self.session.flush()
        business = await BusinessService(self.session).create(
            guest, BusinessIn(name=new.business_name, timezone=new.timezone, currency=new.currency)
        )
        trial = Trial(
            business_id=business.id,
            user_id=guest.id,
            kind=new.kind,
            scenario=new.scenario,
            realm_id=new.realm_id,
            claimed_at=new.claimed_at,
            expires_at=new.expires_at,
        )
        return await self.trials.add(trial)

    async def start_session(self, trial: Trial) -> StartedSession:
        """A sign-in of the trial's guest that ends when the trial does: an expired trial is refused at once, before
        the sweep has removed anything."""
        token = tokens.new_session_token()
        self.session.add(
            UserSession(user_id=trial.user_id, token_digest=tokens.digest(token), expires_at=trial.expires_at)
        )
        await self.session.flush()
        return StartedSession(token=token, expires_at=trial.expires_at)

    async def claim(self, trial: Trial, now: datetime, lifetime: timedelta) -> bool:
        """Take a pooled trial for a visitor; False when another visitor (or the sweep) took it first."""
        claimed: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(Trial)
            .where(Trial.id == trial.id, Trial.claimed_at.is_(None), Trial.expires_at > now)
            .values(claimed_at=now, expires_at=now + lifetime)
        )
        if claimed.rowcount != 1:
            return False
        await self.session.refresh(trial)
        return True

    async def revoke_sessions(self, trial: Trial, now: datetime) -> None:
        """The guest's sign-ins stop working now ("start over"), before the trial is removed."""
        await self.session.execute(
            update(UserSession)
            .where(UserSession.user_id == trial.user_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def remove(self, trial: Trial) -> bool:
        """Delete the business (every row of it goes with it: the mirror, the connection, memberships, the trial) and
        the guest (with their sessions and tokens). False when someone else removed it first."""
        removed: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            delete(Business).where(Business.id == trial.business_id)
        )
        await self.session.execute(delete(User).where(User.id == trial.user_id))
        return removed.rowcount == 1

    async def take_spare_realm(self, scenario: str) -> str | None:
        """A sandbox company an ended trial of ``scenario`` left, now this caller's alone; None when there is none."""
        for spare in await self.session.scalars(
            select(SpareRealm).where(SpareRealm.scenario == scenario).order_by(SpareRealm.created_at).limit(3)
        ):
            taken: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
                delete(SpareRealm).where(SpareRealm.id == spare.id)
            )
            if taken.rowcount == 1:
                return spare.realm_id
        return None

    async def keep_spare_realm(self, realm_id: str, scenario: str) -> None:
        self.session.add(SpareRealm(realm_id=realm_id, scenario=scenario))
        await self.session.flush()


def is_guest(user: User) -> bool:
    """Whether ``user`` is a trial's guest (their address is in a domain no one else is given)."""
    return user.email.endswith("@" + GUEST_EMAIL_DOMAIN)


async def trial_of_user(session: AsyncSession, user: User) -> Trial | None:
    """The trial ``user`` is the guest of, or None for everyone with an account."""
    return await TrialRepository(session).of_user(user.id)
