"""A demo company made at any hour, in any zone, holds nothing stamped or dated after the moment it was made."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from oodaloo.sandbox.rules.realm import Realm
from oodaloo.sandbox.stats import SandboxStats
from oodaloo.sandbox.store import Store
from tests.sandbox.conftest import make_config
from tests.support.clock import Instant, clock_fixture

frozen_clock = clock_fixture()


def _made_at(zone: str, scenario: str) -> tuple[Realm, datetime]:
    store = Store(make_config(timezone=zone), SandboxStats())
    realm = store.create_realm(scenario=scenario, seed=42, size=None)
    return realm, datetime.now(UTC)


@pytest.mark.parametrize("scenario", ["healthy", "crisis"])
def test_nothing_is_stamped_after_the_realm_is_made(frozen_clock: Instant, scenario: str) -> None:
    realm, made = _made_at(frozen_clock.zone, scenario)
    stamps = [
        (entity, obj["Id"], datetime.fromisoformat(obj["MetaData"][stamp]))
        for entity, table in realm.tables.items()
        for obj in table.values()
        for stamp in ("CreateTime", "LastUpdatedTime")
    ]
    late = [stamp for stamp in stamps if stamp[2] > made]
    assert not late, f"{len(late)} objects stamped after {made.isoformat()}, e.g. {late[:3]}"
    changes = [entry.at for log in realm.changes.values() for entry in log.values()]
    assert max(changes) <= made


@pytest.mark.parametrize("scenario", ["healthy", "tight"])
def test_nothing_is_dated_after_the_company_s_today(frozen_clock: Instant, scenario: str) -> None:
    """Today is the company's (at 23:30 in Los Angeles it is already tomorrow in UTC), and the books reach it."""
    realm, made = _made_at(frozen_clock.zone, scenario)
    today = made.astimezone(ZoneInfo(frozen_clock.zone)).date()
    dated = [
        date.fromisoformat(obj["TxnDate"])
        for entity in ("Bill", "BillPayment", "Invoice", "Payment", "Purchase", "Deposit")
        for obj in realm.ordered(entity)
    ]
    assert max(dated) <= today
    assert (today - max(dated)).days <= 7
