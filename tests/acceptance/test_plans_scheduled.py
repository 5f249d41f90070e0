"""Issue #8 acceptance 5, the scheduled payment: until its day its amount is out of free cash (cancelled, it is back);
on its day in the business's time zone it is paid exactly once, with two ``oodaloo scheduler`` processes sweeping and
the ``oodaloo worker`` that was paying it killed (SIGKILL) while its write was in flight: another worker takes it over.

Real processes over a Redis of the test's own and a database of its own, the sandbox over real HTTP. The day is brought
on by the business's time zone rather than by waiting: scheduled for tomorrow in UTC-12, it is due once the business
moves to UTC+14, whose date is a day or two ahead at any hour.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from oodaloo.domains.ap.scheduled import scheduled_payment_key
from oodaloo.domains.ap.scheduled_models import ScheduledPayment
from oodaloo.domains.qbo.mirror_models import MIRRORED, SyncOutcome
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import Settings
from tests.acceptance.harness import (
    JSONObject,
    Served,
    marker_of,
    oodaloo_process,
    sandbox_config,
    served_app,
    worker_env,
)
from tests.conftest import TEST_REDIS_URL, new_database_url
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.support.app_process import AppProcess, running
from tests.support.redis_server import REDIS_SERVER, RedisServer
from tests.support.waiting import until

T = TypeVar("T")

pytestmark = [
    pytest.mark.skipif(TEST_REDIS_URL is None, reason="OODALOO_TEST_REDIS_URL is not set"),
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

BEHIND = "Etc/GMT+12"  # UTC-12 (POSIX names invert the sign)
AHEAD = "Pacific/Kiritimati"  # UTC+14: a day (or two) ahead of UTC-12 at every hour
# Short leases and quick reconciliation, so a dead worker's payment is taken over within seconds.
LEASE_SECONDS = 5
# Each QBO answer takes this long: the payment's write is in flight long enough to kill its worker.
LATENCY_MS = 3000
START_SECONDS = 60.0
DUE_SECONDS = 90.0
PAID_SECONDS = 120.0


def _query(database_url: str, statement: Any) -> list[Any]:
    async def go() -> list[Any]:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                return list((await session.execute(statement)).scalars().all())
        finally:
            await database.dispose()

    return asyncio.run(go())


def _free_cash(served: Served) -> Decimal:
    customer = served.customer
    response = customer.api.get(f"/api/businesses/{customer.business_id}/runway")
    assert response.status_code == 200, response.text
    return Decimal(response.json()["free_cash"])


def _move_to(served: Served, timezone: str) -> None:
    customer = served.customer
    response = customer.api.patch(f"/api/businesses/{customer.business_id}", json={"timezone": timezone})
    assert response.status_code == 200, response.text


def _schedule(served: Served, bill_id: str, amount: str, pay_on: Any, bank_id: str) -> JSONObject:
    customer = served.customer
    response = customer.api.post(
        f"/api/businesses/{customer.business_id}/bills/{bill_id}/scheduled-payments",
        json={"amount": amount, "pay_from_account_id": bank_id, "pay_on": pay_on.isoformat()},
        headers={"Idempotency-Key": f"schedule-{uuid.uuid4().hex}"},
    )
    assert response.status_code == 200, response.text
    scheduled: JSONObject = response.json()["scheduled_payment"]
    return scheduled


def _listening(process: AppProcess) -> bool:
    return "jobs.worker_started" in process.output()


def test_a_scheduled_payment_is_paid_once_on_its_day_through_two_schedulers_and_a_killed_worker(
    settings: Settings, redis_server: RedisServer, tmp_path: Path, worker_id: str
) -> None:
    # A database of its own: the workers' sweeps act on every business they find.
    database_url = new_database_url(tmp_path, f"oodaloo_test_scheduled_kill_{worker_id}")
    upgrade_to_head(database_url)
    base = settings.model_copy(update={"database_url": database_url})
    overrides = {"redis_url": redis_server.url, "action_lease_seconds": LEASE_SECONDS}
    with served_app(base, sandbox_config(limits=False), seed=31, **overrides) as served:
        realm, customer = served.realm, served.customer
        _move_to(served, BEHIND)
        qbo = Realm(served.sandbox.base_url, realm.realm_id)
        mirror = Harness(
            database_url, qbo, uuid.UUID(customer.business_id), tuple(name for name in MIRRORED if qbo.supports(name))
        )
        bill, kept = realm.create_open_bills([Decimal("500.00"), Decimal("90.00")])
        bank_id = realm.bank_account_id()
        assert mirror.run(lambda sync: sync.full(mirror.business_id)).outcome is SyncOutcome.SUCCEEDED
        tomorrow = datetime.now(ZoneInfo(BEHIND)).date() + timedelta(days=1)

        # Until its day its amount is out of free cash; cancelled, it is back.
        free = _free_cash(served)
        scheduled = _schedule(served, bill["Id"], "200.00", tomorrow, bank_id)
        assert _free_cash(served) == free - Decimal("200.00")
        cancelled = _schedule(served, kept["Id"], "90.00", tomorrow, bank_id)
        assert _free_cash(served) == free - Decimal("290.00")
        response = customer.api.post(
            f"/api/businesses/{customer.business_id}/scheduled-payments/{cancelled['scheduled_payment_id']}/cancel"
        )
        assert response.status_code == 200, response.text
        assert _free_cash(served) == free - Decimal("200.00")

        env = worker_env(
            database_url,
            served,
            redis_server.url,
            action_lease_seconds=LEASE_SECONDS,
            reconcile_backoff_seconds=0.5,
            reconcile_stale_seconds=30,
        )
        first = oodaloo_process("worker", env, tmp_path)
        schedulers = (oodaloo_process("scheduler", env, tmp_path), oodaloo_process("scheduler", env, tmp_path))
        second = oodaloo_process("worker", env, tmp_path)
        key = scheduled_payment_key(uuid.UUID(scheduled["scheduled_payment_id"]))

        def in_flight() -> QBOAction | None:
            rows = _query(database_url, select(QBOAction).where(QBOAction.idempotency_key == key))
            return rows[0] if rows and rows[0].status is ActionStatus.IN_FLIGHT else None

        def paid() -> ScheduledPayment | None:
            scheduled_id = uuid.UUID(scheduled["scheduled_payment_id"])
            rows = _query(database_url, select(ScheduledPayment).where(ScheduledPayment.id == scheduled_id))
            return rows[0] if rows and rows[0].status.value in ("paid", "failed") else None

        with running(schedulers[0]), running(schedulers[1]):
            with running(first):
                until(lambda: _listening(first), "the first worker to listen", within=START_SECONDS, watched=(first,))
                served.sandbox.configure_faults(latency_ms=LATENCY_MS)
                served.sandbox.reset_stats(realm.realm_id)
                time.sleep(2.0)  # a sweep or two while it is not yet due: nothing happens
                assert _query(database_url, select(QBOAction).where(QBOAction.idempotency_key == key)) == []
                _move_to(served, AHEAD)  # its day has come
                action = until(in_flight, "the payment's write to be in flight", within=DUE_SECONDS, watched=(first,))
                first.kill()
            with running(second):
                settled = until(paid, "the payment to be settled", within=PAID_SECONDS, watched=(second,))
        served.sandbox.calm()

        assert settled.status.value == "paid", (settled.failure_code, settled.failure_message)
        assert settled.payment_action_id == action.id
        ours = [row for row in realm.our_bill_payments() if row["Line"][0]["LinkedTxn"][0]["TxnId"] == bill["Id"]]
        assert [row["PrivateNote"] for row in ours] == [marker_of(str(action.id))]
        assert Decimal(str(ours[0]["TotalAmt"])) == Decimal("200.00")
        assert ours[0]["Id"] == settled.bill_payment_id
        stats = served.sandbox.stats(realm.realm_id)
        assert stats["writes"] == 1, stats  # one BillPayment written, whatever was re-sent
        # Paid: the bank shows it and the earmark is gone; the cancelled payment was never made.
        assert _free_cash(served) == free - Decimal("200.00")
        assert [row for row in realm.our_bill_payments() if row["Line"][0]["LinkedTxn"][0]["TxnId"] == kept["Id"]] == []
