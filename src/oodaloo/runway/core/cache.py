"""Each business's runway as last computed, kept in this process: its forecast's basis and the forecast, served again
while the business's date and books version (``runway.core.books_version``) are those it was computed for.

Reading the books of a business with tens of thousands of open items takes seconds; checking that nothing changed
takes one query. The version is read *before* the books, so what is kept under it is never older than it: a change
committed in between is in the books already and moves the version for the next request, which computes again.
Two requests missing the same version may both compute (the same result; the last one is kept). The least recently
used businesses make room for others beyond ``CAPACITY``. What is kept is shared between requests and never changed:
the forecast's inputs and results are frozen, and a what-if works on copies.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.infra.collector import collector_paused
from oodaloo.runway.core.books_version import BooksVersion, books_version
from oodaloo.runway.core.forecast import Forecast, forecast
from oodaloo.runway.core.runway_calculator import RunwayBasis, runway_basis

# Businesses kept: a deployment's active ones (an entry of 50,000 open items holds some tens of MB).
CAPACITY = 32


@dataclass(frozen=True)
class CurrentRunway:
    """A business's forecast today and what it was computed from."""

    basis: RunwayBasis
    forecast: Forecast


@dataclass(frozen=True)
class _Key:
    """What a kept runway is valid for."""

    business_id: uuid.UUID
    today: date
    timezone: str
    version: BooksVersion


@dataclass(frozen=True)
class _Entry:
    key: _Key
    runway: CurrentRunway
    computations: int


class RunwayCache:
    """Businesses' current runways, least recently used dropped first. Safe to share between the event loops of one
    process (a lock guards the entries; computing happens outside it)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("a runway cache holds at least one business")
        self.capacity = capacity
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    async def current(self, session: AsyncSession, business: Business) -> CurrentRunway:
        """``business``'s runway today, read through ``session``: the one kept if its books have not changed since,
        else computed (and kept)."""
        key = _Key(business.id, business.today(), business.timezone, await books_version(session, business.id))
        with self._lock:
            entry = self._entries.get(business.id)
            if entry is not None and entry.key == key:
                self._entries.move_to_end(business.id)
                return entry.runway
        runway = await _compute(session, business)
        if runway.forecast.today != key.today:
            return runway  # the business's date turned while computing: kept under neither day
        with self._lock:
            entry = self._entries.pop(business.id, None)
            # One entry per business (an older version is of no use), with the count of its computations.
            self._entries[business.id] = _Entry(key, runway, (entry.computations if entry else 0) + 1)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return runway

    def computations(self, business_id: uuid.UUID) -> int:
        """How many times ``business_id``'s runway was computed since it was last dropped from the cache (0 when it
        is not there): each a request that found the books changed."""
        with self._lock:
            entry = self._entries.get(business_id)
            return entry.computations if entry is not None else 0


async def _compute(session: AsyncSession, business: Business) -> CurrentRunway:
    basis = await runway_basis(session, business)
    with collector_paused():
        result = forecast(basis.inputs)
    return CurrentRunway(basis, result)


# The process's cache, shared by the runway's routes, the actions' impact and the background watchers.
runway_cache = RunwayCache()
