"""When the Friday digest goes out, with the clock frozen: nothing at 06:59 on Friday in a business's own time zone,
its digest at 07:00 — for businesses in Auckland, New York and Los Angeles each at their own 07:00 — and once only,
whatever is swept or run again. A stale mirror is synced first (no sync when fresh, and none holds the digest back
past the grace); a sender that died is replaced once its lease runs out; a refused send is tried again and delivered
to a real SMTP server on loopback; an advisor's digest goes once a week, after its clients' own (quoting
them) or an hour after its hour at the latest.

The app, a standalone sandbox and the businesses live in a database of this module's own: the sweeps see every
business in their database. Each test works in a week of its own (the send ledger is per week)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from oodaloo.domains.core.digest_audience import business_recipients
from oodaloo.domains.core.digest_models import DigestSend, DigestStatus
from oodaloo.domains.core.digest_sends import DigestKey, DigestLedger
from oodaloo.domains.core.models import Membership, Role, User
from oodaloo.domains.qbo.service import ADVISOR_DIGEST_WAIT, DIGEST_LEASE, DigestOutcome
from oodaloo.domains.qbo.sync_jobs import MIRROR_SCOPE, MIRROR_SYNC_JOB
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.mail import FileOutbox
from oodaloo.migrations import upgrade_to_head
from oodaloo.runway.experiences.digest import ClientFigures, runway_phrase
from oodaloo.runway.experiences.digest_jobs import ADVISOR_DIGEST_JOB, BUSINESS_DIGEST_JOB, SYNC_GRACE, DigestJobs
from oodaloo.settings import Settings
from oodaloo.wiring import QBORuntime, build_runtime
from tests.conftest import new_database_url
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.support.clock import Instant, at
from tests.support.qbo import Browser, Browsers, Served, add_member, connect, open_browsers
from tests.support.smtp_server import smtp_server

T = TypeVar("T")

# Everything is set up on a Wednesday, before the first Friday of the tests.
START = Instant("America/New_York", time(9, 0), day=date(2026, 3, 18))
ZONES = {"auckland": "Pacific/Auckland", "new_york": "America/New_York", "los_angeles": "America/Los_Angeles"}


def local(zone: str, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


def friday(week: int) -> date:
    """The Friday ``week`` weeks after the first one of the tests (20 March 2026)."""
    return date(2026, 3, 20) + timedelta(weeks=week)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@pytest.fixture(scope="module")
def module_database(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    url = new_database_url(tmp_path_factory.mktemp("digest-db"), f"oodaloo_test_digest_jobs_{worker_id}")
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="module")
def served(settings: Settings, module_database: str) -> Iterator[Served]:
    with at(START), serve_for_actions(settings.model_copy(update={"database_url": module_database})) as (served, _):
        yield served


@pytest.fixture(scope="module")
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@dataclass(frozen=True)
class Company:
    owner: Browser
    business_id: uuid.UUID
    zone: str


@dataclass(frozen=True)
class World:
    companies: dict[str, Company]
    advisor: Browser


@pytest.fixture(scope="module")
def world(served: Served, browsers: Browsers) -> World:
    """A synced healthy company in each zone; an advisor of the New York and Los Angeles ones."""
    companies = {}
    with at(START):
        for name, zone in ZONES.items():
            owner = browsers.sign_up(f"digest-{name}")
            created = owner.post("/api/businesses", json={"name": f"Acme {name}", "timezone": zone})
            assert created.status_code == 201, created.text
            business_id = created.json()["id"]
            realm = Realm.create(served.sandbox, scenario="healthy")
            connect(owner, business_id, REDIRECT_URI, realm.realm_id)
            Harness.of(served.settings.database_url, realm, business_id).full_sync()
            companies[name] = Company(owner, uuid.UUID(business_id), zone)
        advisor = browsers.sign_up("digest-advisor")
        for name in ("new_york", "los_angeles"):
            add_member(companies[name].owner, str(companies[name].business_id), advisor, "advisor")
    return World(companies, advisor)


@dataclass
class Recorder:
    """The queue a sweep sends to, recording instead of sending: what each sweep asked for."""

    jobs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        serialize_on: str | None = None,
        coalesce_on: str | None = None,
        delay_seconds: float = 0.0,
    ) -> bool:
        self.jobs.append((kind, payload))
        return True

    def take(self, kind: str = BUSINESS_DIGEST_JOB) -> list[DigestKey]:
        """The digests asked for since the last take (of ``kind``); forgets them all."""
        digest_kind = "business" if kind == BUSINESS_DIGEST_JOB else "advisor"
        taken = [
            DigestKey(digest_kind, uuid.UUID(payload["subject_id"]), date.fromisoformat(payload["week"]))
            for job_kind, payload in self.jobs
            if job_kind == kind
        ]
        self.jobs.clear()
        return taken


def run_with_runtime(settings: Settings, start: datetime, work: Callable[[QBORuntime, Any], Awaitable[T]]) -> T:
    """``work(runtime, traveller)`` in one event loop, the clock travelled to ``start`` (ticking on from there)."""

    async def go() -> T:
        database = Database(settings.database_url)
        runtime = build_runtime(settings, database.sessionmaker)
        try:
            return await work(runtime, traveller)
        finally:
            await runtime.aclose()
            await database.dispose()

    with time_machine.travel(start, tick=True) as traveller:
        return asyncio.run(go())


def digest_settings(served: Served, outbox: Path, **overrides: Any) -> Settings:
    return served.settings.model_copy(
        update={"outbox_dir": str(outbox), "digest_schedule": True, "mirror_sweep": False, **overrides}
    )


def jobs_of(runtime: QBORuntime) -> DigestJobs:
    assert runtime.digests is not None
    return runtime.digests


def sends_of(settings: Settings, week: date) -> list[DigestSend]:
    async def go() -> list[DigestSend]:
        database = Database(settings.database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                return list((await session.scalars(select(DigestSend).where(DigestSend.week == week))).all())
        finally:
            await database.dispose()

    return asyncio.run(go())


def advisor_text(outbox: Path, world: World) -> str:
    [entry] = FileOutbox(outbox).list_for(world.advisor.email)
    opened = FileOutbox(outbox).open(entry.id)
    assert opened is not None
    assert opened.text is not None
    return opened.text


def mails_to(outbox: Path, browser: Browser) -> list[str]:
    return [entry.subject for entry in FileOutbox(outbox).list_for(browser.email)]


# ====================================================================================================== timing
def test_each_business_gets_its_digest_at_its_own_friday_seven_and_once(
    served: Served, world: World, tmp_path: Path
) -> None:
    day = friday(0)
    settings = digest_settings(served, tmp_path)
    ids = {name: company.business_id for name, company in world.companies.items()}
    order = ("auckland", "new_york", "los_angeles")  # whose Friday 07:00 comes first

    async def scenario(runtime: QBORuntime, traveller: Any) -> list[DigestOutcome]:
        digests, queue = jobs_of(runtime), Recorder()
        sent: list[uuid.UUID] = []
        for name in order:
            zone = ZONES[name]
            traveller.move_to(local(zone, day, 6, 59))
            await digests.sweep_businesses(queue)
            assert queue.take() == [], f"nothing is due at 06:59 in {zone}"
            traveller.move_to(local(zone, day, 7, 0))
            await digests.sweep_businesses(queue)
            due = queue.take()
            assert [key.subject_id for key in due] == [ids[name]], f"at 07:00 in {zone}, its digest only"
            assert due[0].week == monday_of(day)
            assert [await digests.deliver(key) for key in due] == [DigestOutcome.SENT]
            sent.append(ids[name])
        # Swept again and every job run twice more: nothing more goes out.
        traveller.move_to(local(ZONES["los_angeles"], day, 9, 0))
        await digests.sweep_businesses(queue)
        assert queue.take() == []
        return [await digests.deliver(DigestKey("business", business_id, monday_of(day))) for business_id in sent * 2]

    again = run_with_runtime(settings, local(ZONES["auckland"], day, 6, 0), scenario)
    assert again == [DigestOutcome.SKIPPED] * 6

    for company in world.companies.values():
        assert len(mails_to(tmp_path, company.owner)) == 1
    assert len(list(tmp_path.glob("*.eml"))) == 3
    assert sorted(send.status for send in sends_of(settings, monday_of(day))) == [DigestStatus.SENT] * 3


def test_the_weekend_still_sends_a_missed_digest_but_monday_starts_a_new_week(
    served: Served, world: World, tmp_path: Path
) -> None:
    day = friday(1)
    settings = digest_settings(served, tmp_path)
    new_york = world.companies["new_york"].business_id

    async def scenario(runtime: QBORuntime, traveller: Any) -> tuple[list[DigestKey], list[DigestKey]]:
        digests, queue = jobs_of(runtime), Recorder()
        # Down all Friday: on Sunday evening the week's digest is still due.
        traveller.move_to(local(ZONES["new_york"], day + timedelta(days=2), 22, 0))
        await digests.sweep_businesses(queue)
        sunday = [key for key in queue.take() if key.subject_id == new_york]
        # On Monday it is a new week, whose digest comes on Friday.
        traveller.move_to(local(ZONES["new_york"], day + timedelta(days=3), 0, 30))
        await digests.sweep_businesses(queue)
        return sunday, [key for key in queue.take() if key.subject_id == new_york]

    sunday, monday = run_with_runtime(settings, local(ZONES["new_york"], day, 5, 0), scenario)
    assert sunday == [DigestKey("business", new_york, monday_of(day))]
    assert monday == []


# =================================================================================================== freshness
def test_a_stale_mirror_is_synced_first_and_a_sync_that_never_lands_does_not_hold_the_digest(
    served: Served, world: World, tmp_path: Path
) -> None:
    day = friday(2)
    settings = digest_settings(served, tmp_path, mirror_sweep=True)
    ids = {name: company.business_id for name, company in world.companies.items()}

    def syncs(queue: Recorder) -> list[uuid.UUID]:
        return [uuid.UUID(payload["business_id"]) for kind, payload in queue.jobs if kind == MIRROR_SYNC_JOB]

    async def scenario(runtime: QBORuntime, traveller: Any) -> None:
        digests, queue = jobs_of(runtime), Recorder()
        # No mirror has a fresh stamp. New York's digest is due a minute ago: its sync is asked for, not its digest.
        # Auckland's has been due for hours, past the grace: it goes from the mirror as it is, without a sync.
        traveller.move_to(local(ZONES["new_york"], day, 7, 1))
        await digests.sweep_businesses(queue)
        assert syncs(queue) == [ids["new_york"]]
        assert [key.subject_id for key in queue.take()] == [ids["auckland"]]
        # New York's sync never lands (QuickBooks down): past the grace its digest goes all the same.
        traveller.move_to(local(ZONES["new_york"], day, 7, 0) + SYNC_GRACE + timedelta(minutes=1))
        await digests.sweep_businesses(queue)
        assert syncs(queue) == []
        assert ids["new_york"] in [key.subject_id for key in queue.take()]
        # Los Angeles's sync lands: its digest goes on the next sweep, and no second sync is asked for.
        traveller.move_to(local(ZONES["los_angeles"], day, 7, 1))
        await digests.sweep_businesses(queue)
        assert syncs(queue) == [ids["los_angeles"]]
        assert ids["los_angeles"] not in [key.subject_id for key in queue.take()]
        await runtime.sync.mark_synced(ids["los_angeles"], MIRROR_SCOPE)  # what the sync job does when it succeeds
        await digests.sweep_businesses(queue)
        assert syncs(queue) == []
        assert ids["los_angeles"] in [key.subject_id for key in queue.take()]

    run_with_runtime(settings, local(ZONES["new_york"], day, 6, 0), scenario)


# =================================================================================================== crashes
def test_a_digest_whose_sender_died_is_sent_once_its_lease_runs_out(
    served: Served, world: World, tmp_path: Path
) -> None:
    day = friday(3)
    settings = digest_settings(served, tmp_path)
    company = world.companies["new_york"]
    key = DigestKey("business", company.business_id, monday_of(day))

    async def scenario(runtime: QBORuntime, traveller: Any) -> DigestSend:
        digests, queue = jobs_of(runtime), Recorder()
        # A worker claimed it, then died before sending (its lease is left behind).
        async with unit_of_work(runtime.sync.sessionmaker) as session:
            claim = await DigestLedger(session).claim(
                key, "dead-worker", now=datetime.now(ZoneInfo("UTC")), lease=DIGEST_LEASE
            )
        assert claim is not None
        await digests.sweep_businesses(queue)
        assert key not in queue.take(), "while its lease lasts, nobody else sends it"
        assert await digests.deliver(key) is DigestOutcome.SKIPPED
        traveller.shift(DIGEST_LEASE + timedelta(seconds=1))
        await digests.sweep_businesses(queue)
        assert key in queue.take()
        assert await digests.deliver(key) is DigestOutcome.SENT
        assert await digests.deliver(key) is DigestOutcome.SKIPPED
        async with unit_of_work(runtime.sync.sessionmaker) as session:
            row = await DigestLedger(session).row(key)
        assert isinstance(row, DigestSend)
        return row

    row = run_with_runtime(settings, local(company.zone, day, 7, 5), scenario)
    assert (row.status, row.attempts, row.lease_owner) == (DigestStatus.SENT, 2, None)
    assert len(mails_to(tmp_path, company.owner)) == 1


def test_a_refused_digest_is_tried_again_and_delivered_over_smtp_with_its_chart_inline(
    served: Served, world: World, tmp_path: Path
) -> None:
    day = friday(4)
    company = world.companies["los_angeles"]
    key = DigestKey("business", company.business_id, monday_of(day))
    with smtp_server() as smtp:
        settings = digest_settings(
            served, tmp_path, smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False, smtp_timeout_seconds=5
        )

        async def scenario(runtime: QBORuntime, traveller: Any) -> None:
            digests, queue = jobs_of(runtime), Recorder()
            smtp.mailbox.refusal = "451 4.3.0 Try again later"
            assert await digests.deliver(key) is DigestOutcome.FAILED
            await digests.sweep_businesses(queue)
            assert key not in queue.take(), "a failed digest waits for its retry"
            smtp.mailbox.refusal = None
            traveller.shift(timedelta(minutes=3))
            await digests.sweep_businesses(queue)
            assert key in queue.take()
            assert await digests.deliver(key) is DigestOutcome.SENT

        run_with_runtime(settings, local(company.zone, day, 7, 2), scenario)
        [received] = smtp.received

    assert received.rcpt_tos == (company.owner.email,)
    message = received.message
    kinds = [part.get_content_type() for part in message.walk()]
    assert kinds == ["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert 'src="cid:runway-chart"' in html.get_content()
    image = next(part for part in message.walk() if part.get_content_type() == "image/png")
    assert image["Content-ID"] == "<runway-chart>"
    assert (image.get_payload(decode=True) or b"")[:8] == b"\x89PNG\r\n\x1a\n"
    assert FileOutbox(tmp_path).list_for(company.owner.email) == []  # SMTP, not the outbox
    [row] = [send for send in sends_of(settings, monday_of(day)) if send.business_id == company.business_id]
    assert (row.status, row.attempts) == (DigestStatus.SENT, 2)


# ==================================================================================================== advisors
def test_an_advisors_digest_goes_once_a_week_after_its_clients_own_quoting_what_their_owners_were_sent(
    served: Served, world: World, tmp_path: Path
) -> None:
    day = friday(5)
    settings = digest_settings(served, tmp_path)
    new_york = world.companies["new_york"]

    async def scenario(runtime: QBORuntime, traveller: Any) -> list[DigestOutcome]:
        digests, queue = jobs_of(runtime), Recorder()
        # One client in New York, one in Los Angeles: equally shared, so New York's 07:00 (the earlier) counts.
        traveller.move_to(local(ZONES["new_york"], day, 6, 59))
        await digests.sweep_advisors(queue)
        assert queue.take(ADVISOR_DIGEST_JOB) == []
        traveller.move_to(local(ZONES["new_york"], day, 7, 0))
        # The New York client's own digest is due and not sent yet: the advisor's waits for it.
        await digests.sweep_advisors(queue)
        assert queue.take(ADVISOR_DIGEST_JOB) == []
        await digests.sweep_businesses(queue)
        clients_due = queue.take()
        assert new_york.business_id in {key.subject_id for key in clients_due}
        assert all([await digests.deliver(key) == DigestOutcome.SENT for key in clients_due])
        await digests.sweep_advisors(queue)
        due = queue.take(ADVISOR_DIGEST_JOB)
        assert len(due) == 1
        outcomes = [await digests.deliver(due[0]) for _ in range(3)]
        await digests.sweep_advisors(queue)
        assert queue.take(ADVISOR_DIGEST_JOB) == []
        return outcomes

    outcomes = run_with_runtime(settings, local(ZONES["new_york"], day, 6, 0), scenario)
    assert outcomes == [DigestOutcome.SENT, DigestOutcome.SKIPPED, DigestOutcome.SKIPPED]
    [subject] = mails_to(tmp_path, world.advisor)
    assert subject.startswith("Your clients this Friday: 2 businesses")
    # The New York line gives the figures kept with its owner's digest (not computed again).
    [row] = [send for send in sends_of(settings, monday_of(day)) if send.business_id == new_york.business_id]
    assert row.summary is not None
    figures = ClientFigures.from_json(row.summary)
    [owner_subject] = mails_to(tmp_path, new_york.owner)
    assert runway_phrase(figures.runway_days) in owner_subject
    text = advisor_text(tmp_path, world)
    [line] = [block for block in text.split("\n\n") if f"/businesses/{new_york.business_id}" in block]
    assert f"Runway: {runway_phrase(figures.runway_days)}" in line
    assert f"Hygiene: {figures.hygiene_score} / 100" in line
    assert f"Late invoices: {figures.late_count}, " in line


def test_an_advisors_digest_waits_for_its_clients_own_an_hour_at_most(
    served: Served, world: World, tmp_path: Path
) -> None:
    day = friday(6)
    settings = digest_settings(served, tmp_path)

    async def scenario(runtime: QBORuntime, traveller: Any) -> None:
        digests, queue = jobs_of(runtime), Recorder()
        # The New York client's digest never goes (its mail server is down, say): the advisor's goes an hour late.
        traveller.move_to(local(ZONES["new_york"], day, 7, 59))
        await digests.sweep_advisors(queue)
        assert queue.take(ADVISOR_DIGEST_JOB) == []
        traveller.move_to(local(ZONES["new_york"], day, 7, 0) + ADVISOR_DIGEST_WAIT)
        await digests.sweep_advisors(queue)
        [due] = queue.take(ADVISOR_DIGEST_JOB)
        assert await digests.deliver(due) == DigestOutcome.SENT

    run_with_runtime(settings, local(ZONES["new_york"], day, 6, 0), scenario)
    assert sends_of(settings, monday_of(day)) == []  # no client's own digest went
    text = advisor_text(tmp_path, world)
    # Its clients' figures computed for it, as they stand.
    assert text.count("Runway: ") == 2
    for name in ("new_york", "los_angeles"):
        assert f"/businesses/{world.companies[name].business_id}" in text


def test_an_address_that_can_never_receive_mail_is_not_mailed(served: Served, world: World) -> None:
    company = world.companies["auckland"]

    async def go() -> list[str]:
        database = Database(served.settings.database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                guest = User(
                    email=f"guest-{uuid.uuid4().hex}@trial.oodaloo.invalid", password_hash="-", display_name="Guest"
                )
                session.add(guest)
                await session.flush()
                session.add(Membership(business_id=company.business_id, user_id=guest.id, role=Role.VIEWER))
            async with unit_of_work(database.sessionmaker) as session:
                return [person.email for person in await business_recipients(session, company.business_id)]
        finally:
            await database.dispose()

    assert asyncio.run(go()) == [company.owner.email]
