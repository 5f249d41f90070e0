import asyncio, time
from collections.abc import Iterator
from datetime import time as dtime
import pytest
from sqlalchemy import select
from oodaloo.domains.core.models import Business
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.runway.core.backtest import backtest
from oodaloo.runway.core.runway_calculator import load_books
from oodaloo.sandbox.config import SandboxConfig
from tests.domains.ar.mirror import synced
from tests.domains.qbo.mirror_support import Realm
from tests.sandbox.conftest import make_config
from tests.support.clock import Instant, at

INSTANT = Instant("America/Los_Angeles", dtime(9, 0))

@pytest.fixture(scope="module")
def frozen_clock() -> Iterator[Instant]:
    with at(INSTANT) as instant:
        yield instant

@pytest.fixture(scope="module")
def sandbox_config(frozen_clock: Instant) -> SandboxConfig:
    return make_config()

@pytest.mark.parametrize("scenario", ["healthy", "tight", "crisis"])
def test_probe(sandbox, database_url, scenario):
    realm = Realm.create(sandbox.base_url, scenario=scenario)
    h = synced(database_url, realm)
    async def go():
        db = Database(database_url)
        async with unit_of_work(db.sessionmaker) as s:
            b = await s.get(Business, h.business_id)
            t0 = time.perf_counter()
            books = await load_books(s, b)
            t1 = time.perf_counter()
            r = backtest(books, b.today()); open("/tmp/h/ids","a").write(f"{database_url} {b.id}\n")
            t2 = time.perf_counter()
            print(scenario, f"load {t1-t0:.2f}s run {t2-t1:.2f}s", len(r.as_of_days), r.as_of_days[0], r.as_of_days[-1], "collected", r.collected)
            print("  ours ", r.ours)
            print("  naive", r.naive)
        await db.dispose()
    asyncio.run(go())
