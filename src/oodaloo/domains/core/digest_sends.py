"""Claiming a week's digest before sending it, and recording how the send ended — the database decides who sends, so
that two schedulers, two workers and a retried job still send one digest per business (or advisor) per week.

- **Claim**: insert the (subject, week) row as ``sending`` under a lease, or take over a row whose lease ran out (its
  sender died) or whose failed attempt is due again. Both are single statements whose condition the database checks
  atomically (a unique key, a conditional update): of two claimants, exactly one gets the row.
- **Finish**: ``sent``, only by the lease's holder. **Fail**: ``failed`` with a time to try again, by the holder too.
- What is left to do is read back by ``unsettled``: rows absent, or claimable now.

Where this leaves the mail itself (at-least-once around the SMTP call) is argued in ADR 0013.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, and_, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from oodaloo.domains.core.digest_models import (
    ERROR_MAX_LENGTH,
    AdvisorDigestSend,
    DigestSend,
    DigestStatus,
)

# A failed digest is tried this many times in all, then left ``failed`` (logged each time): the week moves on.
MAX_ATTEMPTS = 5
# The wait before trying a failed digest again doubles from this, so a mail server down for an hour is waited out.
RETRY_FIRST_DELAY = timedelta(minutes=2)
# Pairs per statement when reading many rows back (well under SQLite's and asyncpg's parameter limits).
PAIRS_PER_STATEMENT = 400

DigestKind = Literal["business", "advisor"]


@dataclass(frozen=True)
class DigestKey:
    """Whose digest — a business's (``subject_id`` is the business) or an advisor's (the user) — and which week
    (the Monday of the local week it is sent in)."""

    kind: DigestKind
    subject_id: uuid.UUID
    week: date

    @property
    def label(self) -> str:
        """Stable and unique per digest: its outbox file name and Message-ID are built from it."""
        return f"digest-{self.kind}-{self.subject_id}-{self.week.isoformat()}"


@dataclass(frozen=True)
class Claim:
    """The right to send one digest, held by ``owner`` until ``lease_expires_at`` (renewed while it works)."""

    key: DigestKey
    owner: str
    attempt: int
    lease_expires_at: datetime


def retry_delay(attempt: int) -> timedelta:
    """The wait after the ``attempt``-th attempt failed: 2, 4, 8, 16 minutes..."""
    return RETRY_FIRST_DELAY * (1 << (max(attempt, 1) - 1))


def _model(kind: DigestKind) -> type[DigestSend] | type[AdvisorDigestSend]:
    return DigestSend if kind == "business" else AdvisorDigestSend


def _subject(kind: DigestKind) -> InstrumentedAttribute[uuid.UUID]:
    return DigestSend.business_id if kind == "business" else AdvisorDigestSend.user_id


def _claimable(model: type[DigestSend] | type[AdvisorDigestSend], now: datetime) -> ColumnElement[bool]:
    """A row another sender may take: its lease ran out, or its failed attempt is due again."""
    return or_(
        and_(model.status == DigestStatus.SENDING, model.lease_expires_at <= now),
        and_(model.status == DigestStatus.FAILED, model.attempts < MAX_ATTEMPTS, model.retry_at <= now),
    )


class DigestLedger:
    """The send rows, read and written through the caller's session (the caller's boundary commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, key: DigestKey, owner: str, *, now: datetime, lease: timedelta) -> Claim | None:
        """Claim ``key`` for ``owner``: a new row, or one whose lease ran out or whose retry is due. None when it is
        sent, being sent under a live lease, waiting to be retried, or out of attempts."""
        expires = now + lease
        if await self._insert(key, owner, now, expires):
            return Claim(key, owner, 1, expires)
        model, subject = _model(key.kind), _subject(key.kind)
        statement = (
            update(model)
            .where(subject == key.subject_id, model.week == key.week, _claimable(model, now))
            .values(
                status=DigestStatus.SENDING,
                attempts=model.attempts + 1,
                lease_owner=owner,
                lease_expires_at=expires,
                retry_at=None,
                updated_at=now,
            )
            .returning(model.attempts)
        )
        attempts = (await self.session.execute(statement)).scalar_one_or_none()
        return None if attempts is None else Claim(key, owner, attempts, expires)

    async def renew(self, claim: Claim, *, now: datetime, lease: timedelta) -> bool:
        """Push the lease on while the holder works; False when it is no longer the holder's."""
        return await self._update_held(claim, lease_expires_at=now + lease, updated_at=now)

    async def finish(
        self,
        claim: Claim,
        *,
        message_id: str,
        recipients: int,
        now: datetime,
        summary: dict[str, Any] | None = None,
    ) -> bool:
        """Mark the digest sent, keeping a business's ``summary``. False when the lease was lost meanwhile (another
        sender took it over: ADR 0013)."""
        kept = {"summary": summary} if summary is not None and claim.key.kind == "business" else {}
        return await self._update_held(
            claim,
            **kept,
            status=DigestStatus.SENT,
            sent_at=now,
            message_id=message_id,
            recipients=recipients,
            lease_owner=None,
            lease_expires_at=None,
            error=None,
            updated_at=now,
        )

    async def fail(self, claim: Claim, error: str, *, now: datetime) -> bool:
        """Record a failed attempt; it is tried again after ``retry_delay`` while attempts remain."""
        return await self._update_held(
            claim,
            status=DigestStatus.FAILED,
            error=error[:ERROR_MAX_LENGTH],
            retry_at=now + retry_delay(claim.attempt),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )

    async def row(self, key: DigestKey) -> DigestSend | AdvisorDigestSend | None:
        model, subject = _model(key.kind), _subject(key.kind)
        statement = select(model).where(subject == key.subject_id, model.week == key.week)
        found = (await self.session.execute(statement)).scalar_one_or_none()
        return cast(DigestSend | AdvisorDigestSend | None, found)

    async def summaries(self, business_ids: Collection[uuid.UUID], week: date) -> dict[uuid.UUID, dict[str, Any]]:
        """The summaries the businesses' digests of ``week`` were sent with (those sent, and sent with one)."""
        wanted = list(dict.fromkeys(business_ids))
        found: dict[uuid.UUID, dict[str, Any]] = {}
        for start in range(0, len(wanted), PAIRS_PER_STATEMENT):
            statement = select(DigestSend.business_id, DigestSend.summary).where(
                DigestSend.business_id.in_(wanted[start : start + PAIRS_PER_STATEMENT]),
                DigestSend.week == week,
                DigestSend.status == DigestStatus.SENT,
                DigestSend.summary.is_not(None),
            )
            rows = (await self.session.execute(statement)).all()
            found.update((business_id, summary) for business_id, summary in rows)
        return found

    async def unsettled(
        self, kind: DigestKind, keys: Collection[tuple[uuid.UUID, date]], *, now: datetime
    ) -> set[tuple[uuid.UUID, date]]:
        """Of ``keys`` (subject, week), those with work left now: no row yet, or a row ``claim`` would take."""
        model, subject = _model(kind), _subject(kind)
        wanted = list(dict.fromkeys(keys))
        settled: set[tuple[uuid.UUID, date]] = set()
        for start in range(0, len(wanted), PAIRS_PER_STATEMENT):
            chunk = wanted[start : start + PAIRS_PER_STATEMENT]
            statement = select(subject, model.week).where(
                tuple_(subject, model.week).in_(chunk), ~_claimable(model, now)
            )
            settled.update((row[0], row[1]) for row in (await self.session.execute(statement)).all())
        return {key for key in wanted if key not in settled}

    async def _insert(self, key: DigestKey, owner: str, now: datetime, expires: datetime) -> bool:
        model, subject = _model(key.kind), _subject(key.kind)
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model)
        values = {
            "id": uuid.uuid4(),
            subject.key: key.subject_id,
            "week": key.week,
            "status": DigestStatus.SENDING,
            "attempts": 1,
            "lease_owner": owner,
            "lease_expires_at": expires,
            "recipients": 0,
            "created_at": now,
            "updated_at": now,
        }
        statement = (
            insert.values(values).on_conflict_do_nothing(index_elements=[subject.key, "week"]).returning(model.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def _update_held(self, claim: Claim, **values: object) -> bool:
        model, subject = _model(claim.key.kind), _subject(claim.key.kind)
        statement = (
            update(model)
            .where(
                subject == claim.key.subject_id,
                model.week == claim.key.week,
                model.status == DigestStatus.SENDING,
                model.lease_owner == claim.owner,
            )
            .values(**values)
            .returning(model.id)
        )
        return (await self.session.execute(statement)).first() is not None
