"""Issue #9 acceptance, the Friday digest: two ``oodaloo scheduler`` and two ``oodaloo worker`` processes send exactly
one digest per business (and one per advisor) for the week, each at 07:00 on Friday in the business's own time zone,
delivered by SMTP to a real server on loopback with its chart inline.

Real processes over a Redis and a database of the test's own, the sandbox over real HTTP. The workers and schedulers
run on a Friday by a shifted clock (``shifted_clock.py``): a minute before 07:00 in Los Angeles, when New York's and
Tokyo's Friday mornings have come and Los Angeles's comes a minute later.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from oodaloo.domains.core.digest_models import AdvisorDigestSend, DigestSend, DigestStatus
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import Settings
from tests.acceptance.harness import Customer, connect_customer, sandbox_config, served_app, worker_env
from tests.acceptance.shifted_clock import SHIFT_VARIABLE, shifted_command
from tests.conftest import TEST_REDIS_URL, new_database_url
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.support.app_process import AppProcess, running
from tests.support.credentials import TEST_PASSWORD
from tests.support.redis_server import REDIS_SERVER, RedisServer
from tests.support.smtp_server import LoopbackSmtp, Received, smtp_server
from tests.support.waiting import until

pytestmark = [
    pytest.mark.skipif(TEST_REDIS_URL is None, reason="OODALOO_TEST_REDIS_URL is not set"),
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

ZONES = {"new_york": "America/New_York", "tokyo": "Asia/Tokyo", "los_angeles": "America/Los_Angeles"}
LATE_ZONE = ZoneInfo(ZONES["los_angeles"])
# The processes' clock starts this long before 07:00 in Los Angeles (start-up and a first sweep fit in it).
BEFORE_SEVEN = timedelta(seconds=60)
START_SECONDS = 60.0
# Every business's and the advisor's digest: a sweep every 15 s after Los Angeles's 07:00, generous for a busy machine.
DIGESTS_SECONDS = 150.0
SENDER = "Oodaloo <digest@oodaloo.example.com>"


def next_friday_seven(now: datetime) -> datetime:
    """07:00 on the next Friday in Los Angeles still ahead of ``now`` by more than BEFORE_SEVEN."""
    local = now.astimezone(LATE_ZONE)
    day = local.date() + timedelta(days=(4 - local.weekday()) % 7)
    seven = datetime.combine(day, clock_time(7), tzinfo=LATE_ZONE)
    return seven if seven - BEFORE_SEVEN > local else seven + timedelta(weeks=1)


def move_to(customer: Customer, zone: str) -> None:
    response = customer.api.patch(f"/api/businesses/{customer.business_id}", json={"timezone": zone})
    assert response.status_code == 200, response.text


def sign_up(app_url: str, label: str) -> str:
    email = f"{label}-{uuid.uuid4().hex[:10]}@example.com"
    response = httpx.post(f"{app_url}/api/auth/signup", json={"email": email, "password": TEST_PASSWORD}, timeout=30)
    assert response.status_code == 201, response.text
    return email


def add_advisor(customer: Customer, email: str) -> None:
    response = customer.api.post(
        f"/api/businesses/{customer.business_id}/members", json={"email": email, "role": "advisor"}
    )
    assert response.status_code == 201, response.text


def rows(database_url: str) -> list[Any]:
    async def go() -> list[Any]:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                found: list[Any] = list((await session.scalars(select(DigestSend))).all())
                found += list((await session.scalars(select(AdvisorDigestSend))).all())
                return found
        finally:
            await database.dispose()

    return asyncio.run(go())


def recipients(received: list[Received]) -> Counter[str]:
    return Counter(address for message in received for address in message.rcpt_tos)


def sent_at(message: EmailMessage) -> datetime:
    return parsedate_to_datetime(str(message["Date"])).astimezone(UTC)


def listening(process: AppProcess) -> bool:
    return "jobs.worker_started" in process.output()


def test_two_schedulers_and_two_workers_send_one_digest_per_business_at_its_own_friday_seven(
    settings: Settings, redis_server: RedisServer, tmp_path: Path, worker_id: str
) -> None:
    # A database of its own: the sweeps send the digest of every business they find.
    database_url = new_database_url(tmp_path, f"oodaloo_test_digest_{worker_id}")
    upgrade_to_head(database_url)
    base = settings.model_copy(update={"database_url": database_url})
    with (
        served_app(base, sandbox_config(limits=False), seed=91, redis_url=redis_server.url) as served,
        smtp_server() as smtp,
    ):
        customers = {"new_york": served.customer}
        for name in ("tokyo", "los_angeles"):
            realm_id = served.sandbox.create_realm(scenario="healthy", seed=92)
            customers[name] = connect_customer(served.customer.app_url, realm_id)
        try:
            for name, customer in customers.items():
                move_to(customer, ZONES[name])
                realm = Realm(served.sandbox.base_url, customer.realm_id)
                Harness.of(database_url, realm, customer.business_id).full_sync()
            advisor = sign_up(served.customer.app_url, "digest-advisor")
            for name in ("new_york", "los_angeles"):
                add_advisor(customers[name], advisor)
            _run_and_check(served, smtp, customers, advisor, database_url, redis_server.url, tmp_path)
        finally:
            for name in ("tokyo", "los_angeles"):
                customers[name].close()


def _run_and_check(
    served: Any,
    smtp: LoopbackSmtp,
    customers: dict[str, Customer],
    advisor: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    seven = next_friday_seven(datetime.now(UTC))
    env = worker_env(
        database_url,
        served,
        redis_url,
        digest_schedule=True,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_from=SENDER,
        public_base_url="https://oodaloo.example.com",
    )
    env[SHIFT_VARIABLE] = str((seven - BEFORE_SEVEN).timestamp() - time.time())
    processes = [
        AppProcess(shifted_command(name), env=env, log_path=tmp_path / f"{name}-{index}.log")
        for index, name in enumerate(("scheduler", "scheduler", "worker", "worker"))
    ]
    owners = {name: customer.email for name, customer in customers.items()}
    expected = {*owners.values(), advisor}
    with ExitStack() as stack:
        for process in processes:
            stack.enter_context(running(process))
        workers = tuple(process for process in processes if process.command[-1] == "worker")
        until(lambda: all(map(listening, workers)), "both workers to listen", within=START_SECONDS, watched=processes)
        until(
            lambda: set(recipients(smtp.received)) >= expected,
            "every business's and the advisor's digest",
            within=DIGESTS_SECONDS,
            poll_seconds=0.5,
            watched=processes,
        )
        # By the time Los Angeles's went out, every process had swept again after the others were sent.
        received = smtp.received

    assert recipients(received) == Counter(expected), "exactly one digest to each"
    by_recipient = {message.rcpt_tos[0]: message.message for message in received}
    # New York and Tokyo were past 07:00 when the processes started; Los Angeles's waited for its own 07:00.
    assert sent_at(by_recipient[owners["los_angeles"]]) >= seven
    for name in ("new_york", "tokyo"):
        assert sent_at(by_recipient[owners[name]]) < seven
    for name, customer in customers.items():
        message = by_recipient[owners[name]]
        html = message.get_body(preferencelist=("html",))
        assert isinstance(html, EmailMessage)
        assert f"https://oodaloo.example.com/businesses/{customer.business_id}" in html.get_content()
        kinds = [part.get_content_type() for part in message.walk()]
        assert kinds == ["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]
    assert by_recipient[advisor]["Subject"].startswith("Your clients this Friday: 2 businesses")

    sends = rows(database_url)
    assert len(sends) == 4
    assert {(row.status, row.attempts) for row in sends} == {(DigestStatus.SENT, 1)}
    week = seven.date() - timedelta(days=seven.weekday())
    assert {row.week for row in sends} == {week}
