"""The expected collection dates, replayed over each demo company's own past: for each past week, each invoice open
then dated from only what was known then, the weekly collections it predicts are closer to what came in than due
dates taken at face value (overdue invoices in the first week); and the early-late range holds about half of them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from oodaloo.domains.ar.behaviour import learn_behaviour
from oodaloo.domains.ar.history import Receivables
from oodaloo.sandbox.config import SandboxConfig
from tests.domains.ar.mirror import load, synced
from tests.domains.qbo.mirror_support import Realm
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.support.clock import Instant, at

INSTANT = Instant("America/Los_Angeles", time(9, 0))
ZONE = ZoneInfo("America/Los_Angeles")  # the zone of the businesses mirror_support makes
HORIZON_WEEKS = 4
HISTORY_WEEKS = 8  # weeks of history a replayed week needs before it
REPLAYED_WEEKS = 52


@pytest.fixture(scope="module")
def frozen_clock() -> Iterator[Instant]:
    with at(INSTANT) as instant:
        yield instant


@pytest.fixture(scope="module")
def sandbox_config(frozen_clock: Instant) -> SandboxConfig:
    return make_config()


@dataclass(frozen=True)
class Replay:
    ours_wape: Decimal
    naive_wape: Decimal
    within_range: float  # share of the invoices paid within the horizon that were paid between early and late


def week_of(day: date, as_of: date) -> int:
    """Week 1 is the seven days from ``as_of``, as the 13-week forecast counts them."""
    return (day - as_of).days // 7 + 1


def replay(history: Receivables, today: date) -> Replay:
    first = min(invoice.txn_date for invoice in history.invoices)
    days = [today - timedelta(weeks=HORIZON_WEEKS + back) for back in range(REPLAYED_WEEKS)]
    days = [day for day in days if day >= first + timedelta(weeks=HISTORY_WEEKS)]
    ours_error = naive_error = collected = Decimal(0)
    within = paid = 0
    for as_of in days:
        behaviours = learn_behaviour(history, as_of)
        open_then = history.open_as_of(as_of)
        ours: dict[int, Decimal] = defaultdict(Decimal)
        naive: dict[int, Decimal] = defaultdict(Decimal)
        for invoice in open_then:
            expected = behaviours.expected_collection(invoice, as_of)
            ours[week_of(expected.expected, as_of)] += invoice.balance
            naive[week_of(max(invoice.due_date, as_of), as_of)] += invoice.balance
            settled_on = history.by_id[invoice.invoice_id].settled_on
            if settled_on is not None and week_of(settled_on, as_of) <= HORIZON_WEEKS:
                paid += 1
                within += expected.early <= settled_on <= expected.late
        ids = [invoice.invoice_id for invoice in open_then]
        for week in range(1, HORIZON_WEEKS + 1):
            start = as_of + timedelta(days=7 * (week - 1))
            actual = history.collected_between(ids, start, start + timedelta(days=6), include_credits=True)
            ours_error += abs(ours[week] - actual)
            naive_error += abs(naive[week] - actual)
            collected += actual
    assert collected > 0
    return Replay(ours_error / collected, naive_error / collected, within / paid)


@pytest.mark.parametrize("scenario", ["healthy", "tight", "crisis"])
def test_expected_collections_beat_due_dates_on_each_demo_company(
    sandbox: RunningSandbox, database_url: str, scenario: str
) -> None:
    harness = synced(database_url, Realm.create(sandbox.base_url, scenario=scenario))
    history = load(database_url, harness.business_id).receivables

    result = replay(history, datetime.now(ZONE).date())

    assert result.ours_wape < result.naive_wape, result
    # The early and late dates are the quartiles: about half the invoices are paid between them (whole days, so
    # somewhat more), neither nearly all (a range too wide to mean anything) nor few (overconfident).
    assert 0.35 <= result.within_range <= 0.8, result
