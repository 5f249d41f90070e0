"""The daily snapshot job on synced demo companies (over real HTTP against the sandbox, frozen clock): each business
gets exactly one snapshot per day of its own time zone, however often the sweep runs, holding the figures the KPI API
shows that day; and a runway that falls by more than the threshold since the last snapshot raises one alert, resolved
once the runway is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from oodaloo.settings import Settings
from tests.domains.core.drift_support import Watched
from tests.domains.qbo.bulk_support import Fleet, fleet
from tests.support.clock import Instant, at

# Half an hour before midnight in Auckland is mid-morning of the same date in Los Angeles; an hour later Auckland is
# on its next day and Los Angeles is not.
BEFORE_AUCKLAND_MIDNIGHT = Instant("Pacific/Auckland", time(23, 30))
AFTER_AUCKLAND_MIDNIGHT = timedelta(hours=1)


@pytest.fixture(scope="module")
def books(settings: Settings, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Fleet]:
    with (
        at(BEFORE_AUCKLAND_MIDNIGHT),
        fleet(settings, tmp_path_factory.mktemp("snapshots"), f"oodaloo_snapshots_{worker_id}") as found,
    ):
        yield found


def synced(books: Fleet, timezone: str) -> Watched:
    business = Watched.connect(books, timezone)
    business.sync()
    return business


def trend(business: Watched) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = business.get("/kpis")["runway_trend"]["points"]
    return points


def test_one_snapshot_per_business_local_day_however_often_the_sweep_runs(books: Fleet) -> None:
    auckland = synced(books, "Pacific/Auckland")
    los_angeles = synced(books, "America/Los_Angeles")
    unsynced = Watched.connect(books, "Pacific/Auckland")  # connected, never synced: nothing to snapshot
    day = BEFORE_AUCKLAND_MIDNIGHT.day  # 2026-03-18 in both zones

    assert auckland.sweep_snapshots() >= 2  # both synced businesses are due (other tests' businesses may be too)
    assert auckland.sweep_snapshots() == 0  # taken: nothing is due any more
    assert [point["day"] for point in trend(auckland)] == [day.isoformat()]
    assert [point["day"] for point in trend(los_angeles)] == [day.isoformat()]
    assert unsynced.books.owner.get(unsynced.url("/kpis")).status_code == 409

    with time_machine.travel(BEFORE_AUCKLAND_MIDNIGHT.moment + AFTER_AUCKLAND_MIDNIGHT, tick=True):
        # Auckland's 19 March has begun; Los Angeles is still on the 18th.
        assert auckland.sweep_snapshots() == 1
        assert auckland.sweep_snapshots() == 0
        assert [point["day"] for point in trend(auckland)] == [day.isoformat(), (day + timedelta(days=1)).isoformat()]
        assert [point["day"] for point in trend(los_angeles)] == [day.isoformat()]


def test_a_snapshot_holds_the_figures_the_kpis_show_that_day(books: Fleet) -> None:
    business = synced(books, "America/Los_Angeles")
    business.sweep_snapshots()
    kpis = business.get("/kpis")
    runway = business.get("/runway")["runway"]

    [point] = kpis["runway_trend"]["points"]
    assert point["day"] == kpis["as_of"]
    assert Decimal(point["cash"]) == Decimal(kpis["cash"])
    assert Decimal(point["burn"]) == Decimal(kpis["burn"]["weekly"])
    assert (point["runway_days"], point["beyond_horizon"]) == (runway["days"], runway["beyond_horizon"])
    assert kpis["runway_trend"]["change_days"] is None  # one point: no change yet
    assert kpis["runway_trend"]["direction"] is None


def test_a_runway_fall_beyond_the_threshold_raises_one_alert_resolved_once_it_is_back(books: Fleet) -> None:
    business = synced(books, "Pacific/Auckland")
    business.sweep_snapshots()  # today's snapshot: tomorrow's baseline
    [before] = trend(business)

    with time_machine.travel(BEFORE_AUCKLAND_MIDNIGHT.moment + AFTER_AUCKLAND_MIDNIGHT, tick=True):
        cash = Decimal(business.get("/kpis")["cash"])
        # A bill larger than all the cash, due at once: the runway ends today.
        crushing = business.company.new_bill(str((cash * 2).quantize(Decimal("0.01"))))
        business.sync()
        business.sync()
        assert business.check().raised == []

        [alert] = business.alerts_of("runway_drop")
        assert alert["status"] == "open"
        assert alert["subject"]["id"] == f"since:{before['day']}"
        now = business.get("/runway")["runway"]["days"]
        assert f"to {now} days today" in alert["reason"]
        assert alert["action"] == {"method": "GET", "path": business.url("/runway")}

        business.delete_in_qbo("Bill", crushing["Id"])
        business.sync()
        [resolved] = business.alerts_of("runway_drop")
        assert resolved["status"] == "resolved"
        assert resolved["resolution"].startswith("The runway is back to")
