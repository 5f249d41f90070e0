"""Each demo company's forecast, from its synced mirror, lands in the runway range its scenario is named for (ADR 0002:
healthy beyond the 13-week horizon, tight 4 to 10 weeks, crisis under 3 weeks) — and every weekly figure adds up from
the items it lists."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from oodaloo.domains.core.models import Business
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.runway.core.forecast import Forecast, forecast
from oodaloo.runway.core.runway_calculator import runway_basis
from tests.domains.ar.mirror import synced
from tests.domains.qbo.mirror_support import Realm
from tests.sandbox.conftest import RunningSandbox


def forecast_of(database_url: str, business_id: uuid.UUID) -> Forecast:
    async def go() -> Forecast:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                business = await session.get(Business, business_id)
                assert business is not None
                return forecast((await runway_basis(session, business)).inputs)
        finally:
            await database.dispose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("scenario", "fewest_weeks", "most_weeks"),
    [("healthy", None, None), ("tight", 4, 10), ("crisis", 0, 3)],
)
def test_a_demo_companys_runway_is_in_its_scenarios_range(
    sandbox: RunningSandbox, database_url: str, scenario: str, fewest_weeks: int | None, most_weeks: int | None
) -> None:
    harness = synced(database_url, Realm.create(sandbox.base_url, scenario=scenario))

    found = forecast_of(database_url, harness.business_id)

    if most_weeks is None:
        assert found.runway.days is None, f"healthy runs out on {found.runway.runs_out_on}"
    else:
        assert found.runway.days is not None, f"{scenario} never runs out within 13 weeks"
        assert fewest_weeks is not None
        assert fewest_weeks * 7 <= found.runway.days < most_weeks * 7
    for week in found.weeks:
        assert week.inflows == sum((item.amount for item in week.inflow_items), start=week.inflows * 0)
        assert week.outflows == sum((item.amount for item in week.outflow_items), start=week.outflows * 0)
        assert week.ending == week.opening + week.inflows - week.outflows
    assert [week.opening for week in found.weeks[1:]] == [week.ending for week in found.weeks[:-1]]
