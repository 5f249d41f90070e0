"""Frozen clocks for tests whose outcome could depend on the time of day or the zone: a set of instants
(just after and just before local midnight, in zones either side of UTC) and fixtures that run a test at each.

Use ``at(instant)`` around code, or make a fixture for a module with ``clock_fixture()``::

    frozen_clock = clock_fixture(scope="module")     # every test in the module runs once per instant

The clock ticks on from the instant (servers in threads, timeouts and token expiry behave as usual) and the
process's local zone is the instant's (time-machine sets ``TZ`` for a ``ZoneInfo`` destination).
``time.monotonic`` and ``perf_counter`` are left alone by time-machine 3, so waits and deadlines still work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
import time_machine

# A Wednesday outside every DST switch of the zones below (US DST began on 8 March, Auckland's ends on 5 April).
DAY = date(2026, 3, 18)


@dataclass(frozen=True)
class Instant:
    """A wall-clock time in a zone: the moment a test runs at, and the zone the process (and a company) lives in."""

    zone: str
    local: time
    day: date = DAY

    @property
    def moment(self) -> datetime:
        return datetime.combine(self.day, self.local, tzinfo=ZoneInfo(self.zone))

    @property
    def id(self) -> str:
        return f"{self.local:%H%M}-{self.zone.replace('/', '_')}"


# 00:30 and 23:30 local are where the company's date and UTC's date disagree (Los Angeles is behind UTC,
# Auckland ahead); 02:30 Pacific is when the demo history once ran into the future.
CLOCK_INSTANTS: tuple[Instant, ...] = (
    Instant("America/Los_Angeles", time(0, 30)),
    Instant("America/Los_Angeles", time(2, 30)),
    Instant("America/Los_Angeles", time(23, 30)),
    Instant("UTC", time(0, 30)),
    Instant("UTC", time(23, 30)),
    Instant("Pacific/Auckland", time(0, 30)),
    Instant("Pacific/Auckland", time(23, 30)),
)
# A smaller set for slow tests: both ends of the local day, on both sides of UTC.
EDGE_INSTANTS: tuple[Instant, ...] = (
    Instant("America/Los_Angeles", time(0, 30)),
    Instant("America/Los_Angeles", time(23, 30)),
    Instant("Pacific/Auckland", time(0, 30)),
    Instant("Pacific/Auckland", time(23, 30)),
)


@contextlib.contextmanager
def at(instant: Instant, *, tick: bool = True) -> Iterator[Instant]:
    """Run the block at ``instant``; with ``tick`` the clock moves on from there in real time."""
    with time_machine.travel(instant.moment, tick=tick):
        yield instant


def clock_fixture(
    instants: tuple[Instant, ...] = CLOCK_INSTANTS, *, scope: Literal["function", "module"] = "function"
) -> Callable[..., Any]:
    """A parametrized fixture yielding each of ``instants`` with the clock travelled there.

    Module scope lets module-scoped fixtures (a served sandbox) depend on it, so they are built inside the
    frozen clock, once per instant.
    """

    @pytest.fixture(scope=scope, params=instants, ids=[instant.id for instant in instants])
    def frozen_clock(request: pytest.FixtureRequest) -> Iterator[Instant]:
        with at(request.param) as instant:
            yield instant

    return frozen_clock
