"""Collects the demo's drafts, gives them plausible timestamps, and renders them as ordered seed ops.

The history ends at ``end``, the instant the company is made: QBO never returns an object stamped after the moment
it is asked, so nothing here is stamped later, whatever the time of day (a transaction dated today is entered in
the part of today that has passed).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .model import ZERO, Draft, SeedOp, between

Body = dict[str, Any]

# Transactions are entered during office hours; seconds precision, as QBO's MetaData has.
OFFICE_OPENS = 8 * 3600
OFFICE_CLOSES = 18 * 3600


class Book:
    """Drafts in generation order. Anything a draft refers to must have been added before it."""

    def __init__(self, rng: random.Random, zone: ZoneInfo, end: datetime) -> None:
        self.rng = rng
        self.zone = zone
        self.end = end
        self.today = end.astimezone(zone).date()
        self.drafts: list[Draft] = []
        self._midnights: dict[date, datetime] = {}

    def add(
        self,
        entity: str,
        on: date,
        build: Callable[[], Body],
        *,
        after: tuple[Draft, ...] = (),
        bank_delta: Decimal = ZERO,
        entered: datetime | None = None,
        rng: random.Random | None = None,
    ) -> Draft:
        """A transaction dated ``on``, entered during that day's office hours unless ``entered`` says
        otherwise, and after every draft in ``after``. ``rng`` draws the time instead of the book's own source
        (so that optional extras leave the rest of the company unchanged)."""
        source = rng or self.rng
        at_time = self.office_time(on, source) if entered is None else entered
        for earlier in after:
            if at_time <= earlier.at:
                at_time = earlier.at + timedelta(seconds=between(source, 30, 900))
        # Ties with ``end`` keep generation order, so a draft still follows everything in ``after``.
        draft = Draft(entity, min(at_time, self.end), build, len(self.drafts), on, bank_delta)
        self.drafts.append(draft)
        return draft

    def add_at(self, entity: str, at: datetime, build: Callable[[], Body], *, fixed_id: str = "") -> Draft:
        """A set-up object (account, vendor, ...) created at an exact moment; ``fixed_id`` for one that QBO names
        rather than numbers (the pseudo tax codes TAX and NON)."""
        draft = Draft(entity, min(at, self.end), build, len(self.drafts))
        draft.id = fixed_id
        self.drafts.append(draft)
        return draft

    def office_time(self, on: date, rng: random.Random | None = None) -> datetime:
        """A moment of ``on``'s office hours; today, only of the hours already past (before opening: since midnight)."""
        midnight = self._midnights.get(on)
        if midnight is None:
            midnight = self._midnights[on] = datetime.combine(on, time(0), tzinfo=self.zone)
        opens, closes = OFFICE_OPENS, OFFICE_CLOSES - 1
        if on >= self.today:
            elapsed = int((self.end - midnight).total_seconds())
            opens, closes = (opens, min(closes, elapsed)) if elapsed > opens else (0, max(0, elapsed))
        # Wall-clock arithmetic on an aware datetime: 8:00-18:00 local, whatever the UTC offset that day.
        return midnight + timedelta(seconds=between(rng or self.rng, opens, closes))

    def transactions(self) -> list[Draft]:
        return [draft for draft in self.drafts if draft.txn_date is not None]

    def render(self) -> list[SeedOp]:
        """Orders drafts by creation time, numbers each entity from "1", then builds the bodies.

        Ties keep generation order, which already puts referenced objects first; bodies are built in
        chronological order, so anything numbered at build time (invoice and check numbers) is too.
        """
        ordered = sorted(self.drafts, key=lambda draft: (draft.at, draft.seq))
        counters: dict[str, int] = {}
        for draft in ordered:
            if draft.id:
                continue  # named by QBO, not numbered
            counters[draft.entity] = counters.get(draft.entity, 0) + 1
            draft.id = str(counters[draft.entity])
        return [SeedOp(draft.entity, {"Id": draft.id, **draft.build()}, draft.at) for draft in ordered]
