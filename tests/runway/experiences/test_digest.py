"""The Friday digest's content for demo companies synced from the sandbox over real HTTP, on a frozen Friday morning:
what it says matches what the API serves (runway, late invoices, bills due this week, approvals, hygiene), its HTML
matches the stored snapshot, its chart is a PNG whose floor line and run-out week are where the numbers put them, and
an advisor's digest lists every client — direct, through a firm, and not yet synced.

Update the snapshot after an intended change with ``OODALOO_UPDATE_SNAPSHOTS=1`` (and read the diff)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business, User
from oodaloo.domains.core.snapshots import SnapshotRepository
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.mail import build_message
from oodaloo.runway.experiences.digest import (
    CHART_CID,
    AdvisorDigest,
    BusinessDigest,
    advisor_mail,
    build_advisor_digest,
    build_business_digest,
    business_mail,
)
from oodaloo.runway.experiences.digest_chart import BOTTOM, FLOOR, HEIGHT, LEFT, RIGHT, RUN_OUT, TOP, WIDTH
from oodaloo.runway.experiences.phrases import money, weeks_and_days
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.runway.action_support import REDIRECT_URI, serve_for_actions
from tests.support.clock import Instant, at
from tests.support.qbo import Browser, Browsers, Served, add_member, connect

T = TypeVar("T")

# A Friday morning in the businesses' zone (20 March 2026; US daylight time began on the 8th).
FRIDAY = Instant("America/New_York", time(7, 30), day=date(2026, 3, 20))
TODAY = FRIDAY.day
WEEK = TODAY - timedelta(days=TODAY.weekday())
BASE_URL = "https://oodaloo.example.com"
SENDER = "Oodaloo <digest@oodaloo.example.com>"
SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_SNAPSHOTS = os.environ.get("OODALOO_UPDATE_SNAPSHOTS") == "1"


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with at(FRIDAY), serve_for_actions(settings) as (served, _app):
        yield served


@pytest.fixture(scope="module")
def browsers(served: Served) -> Iterator[Browsers]:
    browsers = Browsers(served)
    try:
        yield browsers
    finally:
        browsers.close()


@dataclass
class Company:
    owner: Browser
    business_id: str
    name: str

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.business_id)

    def api(self, path: str) -> Any:
        response = self.owner.get(f"/api/businesses/{self.business_id}{path}")
        assert response.status_code == 200, response.text
        return response.json()


def company(
    served: Served,
    browsers: Browsers,
    scenario: str,
    name: str = "Acme Supply",
    *,
    sync: bool = True,
    link: bool = True,
) -> Company:
    """A business of a new owner; ``link``: connected to a new sandbox company (``sync``: and its mirror synced)."""
    owner = browsers.sign_up(f"digest-{scenario}")
    created = owner.post("/api/businesses", json={"name": name, "timezone": FRIDAY.zone})
    assert created.status_code == 201, created.text
    business_id = created.json()["id"]
    if not link:
        return Company(owner, business_id, name)
    realm = Realm.create(served.sandbox, scenario=scenario)
    connect(owner, business_id, REDIRECT_URI, realm.realm_id)
    if sync:
        Harness.of(served.settings.database_url, realm, business_id).full_sync()
    # Connecting names the business after its QuickBooks company (when it still has the name it was created with).
    shown = owner.get(f"/api/businesses/{business_id}")
    assert shown.status_code == 200, shown.text
    return Company(owner, business_id, shown.json()["name"])


def in_session(served: Served, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def go() -> T:
        database = Database(served.settings.database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                return await work(session)
        finally:
            await database.dispose()

    with at(FRIDAY):
        return asyncio.run(go())


# A week ago: 30,000 more in the bank, 1,000 less owed by customers, 2,500 more owed to vendors, the same burn, and a
# runway of 70 days.
CASH_THEN_MORE = Decimal("30000.00")
AR_THEN_LESS = Decimal("1000.00")
AP_THEN_MORE = Decimal("2500.00")
RUNWAY_THEN = 70


def last_weeks_snapshot(served: Served, made: Company) -> None:
    """What the daily snapshot recorded a week ago, from today's figures as the API serves them."""
    runway = made.api("/runway")
    receivables = Decimal(made.api("/collections")["total_open"])
    payables = sum((Decimal(bill["balance"]) for bill in made.api("/bills")), Decimal("0.00"))
    zero = Decimal("0.00")
    values = {
        "day": TODAY - timedelta(days=7),
        "cash": Decimal(runway["starting_cash"]) + CASH_THEN_MORE,
        "burn": Decimal(runway["burn"]),
        "runway_days": RUNWAY_THEN,
        "horizon_days": 91,
        **{f"ar_{bucket}": zero for bucket in ("current", "1_30", "31_60", "61_90", "over_90")},
        **{f"ap_{bucket}": zero for bucket in ("current", "1_30", "31_60", "61_90", "over_90")},
        "ar_total": receivables - AR_THEN_LESS,
        "ap_total": payables + AP_THEN_MORE,
        "dso_days": None,
        "dpo_days": None,
    }

    async def add(session: AsyncSession) -> bool:
        return await SnapshotRepository(session, made.id).add_once(values)

    assert in_session(served, add)


def propose_a_plan(served: Served, browsers: Browsers, tight: Company) -> str:
    advisor = browsers.sign_up("digest-advisor")
    add_member(tight.owner, tight.business_id, advisor, "advisor")
    bills = tight.api("/bills")
    bill = next(bill for bill in bills if Decimal(bill["balance"]) > 0)
    item = {
        "kind": "bill.delay",
        "bill_id": bill["bill_id"],
        "planned_pay_date": (TODAY + timedelta(days=14)).isoformat(),
    }
    base = f"/api/businesses/{tight.business_id}/plans"
    created = advisor.post(base, json={"title": "Hold the studio rent", "items": [item]})
    assert created.status_code == 201, created.text
    proposed = advisor.post(f"{base}/{created.json()['plan_id']}/propose")
    assert proposed.status_code == 200, proposed.text
    return advisor.email


@pytest.fixture(scope="module")
def tight(served: Served, browsers: Browsers) -> Company:
    """A tight demo company with last week's snapshot and a plan its advisor proposed."""
    with at(FRIDAY):
        made = company(served, browsers, "tight")
        last_weeks_snapshot(served, made)
        propose_a_plan(served, browsers, made)
    return made


def business_digest(served: Served, business_id: uuid.UUID) -> BusinessDigest:
    async def build(session: AsyncSession) -> BusinessDigest:
        business = await session.get(Business, business_id)
        assert business is not None
        return await build_business_digest(session, business, week=WEEK, base_url=BASE_URL)

    return in_session(served, build)


def advisor_digest(served: Served, email: str) -> AdvisorDigest:
    async def build(session: AsyncSession) -> AdvisorDigest:
        from sqlalchemy import select

        user = (await session.execute(select(User).where(User.email == email))).scalar_one()
        return await build_advisor_digest(session, user, week=WEEK, base_url=BASE_URL)

    return in_session(served, build)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&amp;", "&").replace("&#39;", "'").split())


def normalized(html: str) -> str:
    """The HTML with what differs from run to run (ids, people's made-up addresses, times of day) replaced by
    placeholders."""
    html = re.sub(r"[\w.+-]+@example\.com", "<email>", html)
    html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", html)
    return re.sub(r"\b\d{2}:\d{2} [A-Z]{2,5}\b", "<time>", html)


def matches_snapshot(name: str, content: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE_SNAPSHOTS or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(content)
        assert not (not UPDATE_SNAPSHOTS and os.environ.get("CI")), f"{name} was missing; it is written now"
    if content != path.read_text():
        actual = Path(os.environ.get("OODALOO_TEST_ARTIFACTS", "var/test-artifacts")) / "digest" / name
        actual.parent.mkdir(parents=True, exist_ok=True)
        actual.write_text(content)
        pytest.fail(f"the digest differs from {path}: see {actual} (OODALOO_UPDATE_SNAPSHOTS=1 to accept)")


# ====================================================================================================== content
def test_the_digest_says_what_the_api_serves(tight: Company, served: Served) -> None:
    digest = business_digest(served, tight.id)
    runway = tight.api("/runway")
    mail = business_mail(digest, key=f"digest-business-{tight.id}-{WEEK}", sender=SENDER, to=())
    text = mail.text
    currency = runway["currency"]

    assert digest.runway.as_of == TODAY
    days = runway["runway"]["days"]
    assert days is not None, "the tight demo company runs out within the 13 weeks"
    assert f"RUNWAY: {weeks_and_days(days)}" in text
    assert runway["runway"]["description"] in text
    assert money(Decimal(runway["starting_cash"]), currency) in text
    assert money(Decimal(runway["free_cash"]), currency) in text
    assert mail.subject.startswith(f"{tight.name}: runway {weeks_and_days(days)}")

    # The change since last week's snapshot, with what moved it, the largest change first.
    lost = RUNWAY_THEN - days
    assert digest.change is not None
    assert digest.change.days == -lost
    assert f"{weeks_and_days(lost)} shorter than last week (it was {RUNWAY_THEN} days on Fri 13 Mar 2026)" in text
    cash_now = Decimal(runway["starting_cash"])
    assert digest.change.reasons == (
        f"Cash in the bank fell by {money(CASH_THEN_MORE, currency)}, from {money(cash_now + CASH_THEN_MORE, currency)}"
        f" to {money(cash_now, currency)}.",
        f"You owe vendors {money(AP_THEN_MORE, currency)} less (paid or credited): "
        f"{money(digest.data.payables_total, currency)} open.",
        f"Customers owe {money(AR_THEN_LESS, currency)} more (newly invoiced or not yet paid): "
        f"{money(digest.data.receivables_total, currency)} open.",
    )
    for reason in digest.change.reasons:
        assert f"  - {reason}" in text

    # The late invoices most worth a call: the chase list's first five, with its reasons.
    chase = tight.api("/collections")["invoices"][:5]
    assert chase, "the tight demo company has late invoices"
    assert [invoice.invoice_id for invoice in digest.data.late_invoices] == [
        item["invoice"]["invoice_id"] for item in chase
    ]
    for item in chase:
        assert item["reason"] in text
    assert f"{BASE_URL}/businesses/{tight.id}/chase" in text

    # Bills due this week: the bills board's "this week" column.
    board = tight.api("/bills/board")
    this_week = {
        bill["bill_id"]
        for column in (board["must_pay"], board["can_delay"])
        for window in column["windows"]
        if window["window"] == "this_week"
        for vendor in window["vendors"]
        for bill in vendor["bills"]
    }
    listed = {bill.bill_id for bill in digest.data.bills_due}
    assert digest.data.bills_due_count == len(this_week)
    assert listed == this_week if len(this_week) <= len(listed) else listed < this_week

    # The plan the advisor proposed waits for the owner.
    assert [plan.title for plan in digest.data.pending_approvals] == ["Hold the studio rent"]
    assert "Hold the studio rent: 1 action, proposed by" in text
    assert f"BOOKS HYGIENE: {digest.hygiene.score} / 100" in text
    for link in ("", "/bills", "/plan"):
        assert f"{BASE_URL}/businesses/{tight.id}{link}" in mail.html


def test_the_html_matches_its_snapshot_and_names_its_inline_chart(tight: Company, served: Served) -> None:
    digest = business_digest(served, tight.id)
    mail = business_mail(digest, key=f"digest-business-{tight.id}-{WEEK}", sender=SENDER, to=())

    assert f'src="cid:{CHART_CID}"' in mail.html
    assert f'alt="{digest.chart.alt}"' in mail.html
    assert "<script" not in mail.html
    assert "<style" not in mail.html  # mail clients drop style blocks: every style is inline
    matches_snapshot("digest_business.html", normalized(mail.html))

    message = build_message(mail)
    related = next(part for part in message.walk() if part.get_content_type() == "multipart/related")
    assert isinstance(related, EmailMessage)
    image = next(part for part in related.iter_parts() if part.get_content_type() == "image/png")
    assert image["Content-ID"] == f"<{CHART_CID}>"
    assert image.get_payload(decode=True) == digest.chart.png


def test_the_chart_draws_the_floor_and_the_week_it_runs_out(tight: Company, served: Served) -> None:
    digest = business_digest(served, tight.id)
    chart = digest.chart
    image = Image.open(io.BytesIO(chart.png))
    image.load()
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    pixels = image.convert("RGB")

    # The floor: a solid line across the plot at the floor's height.
    floor_y = chart.layout.y_of(digest.runway.reserve_floor)
    assert TOP <= floor_y <= BOTTOM
    row = [pixels.getpixel((x, floor_y)) for x in range(LEFT + 1, RIGHT)]
    assert row.count(FLOOR) == len(row)
    assert pixels.getpixel((LEFT + 5, max(floor_y - 30, TOP + 1))) != FLOOR

    # The week it runs out is shaded, between that week's start and end.
    week = digest.runway.runway.runs_out_week
    assert week is not None
    left, right = chart.layout.x_of(week - 1), chart.layout.x_of(week)
    shaded = [pixels.getpixel(((left + right) // 2, y)) for y in range(TOP + 1, BOTTOM)]
    assert RUN_OUT in shaded
    assert RUN_OUT not in [pixels.getpixel((LEFT + 3, y)) for y in range(TOP + 1, BOTTOM)] or week == 1
    assert f"falls below it in week {week}" in chart.alt


def test_a_healthy_company_without_last_weeks_figure_says_so(served: Served, browsers: Browsers) -> None:
    with at(FRIDAY):
        healthy = company(served, browsers, "healthy")
    digest = business_digest(served, healthy.id)
    mail = business_mail(digest, key="digest-healthy", sender=SENDER, to=())
    assert digest.runway.runway.days is None
    assert "RUNWAY: beyond 13 weeks" in mail.text
    assert "stays above it through week 13" in digest.chart.alt
    assert "No figure from a week ago yet" in mail.text
    image = Image.open(io.BytesIO(digest.chart.png)).convert("RGB")
    assert RUN_OUT not in {image.getpixel((x, (TOP + BOTTOM) // 2)) for x in range(LEFT, RIGHT)}


# ===================================================================================================== advisors
def test_the_advisor_digest_lists_every_client(served: Served, browsers: Browsers, tight: Company) -> None:
    with at(FRIDAY):
        advisor = browsers.sign_up("digest-portfolio")
        # A direct client, and a business engaging the advisor's firm; and a client whose books are not synced yet.
        add_member(tight.owner, tight.business_id, advisor, "advisor")
        crisis = company(served, browsers, "crisis")
        firm = advisor.post("/api/firms", json={"name": "Ledgerline Advisors"})
        assert firm.status_code == 201, firm.text
        engaged = crisis.owner.post(f"/api/businesses/{crisis.business_id}/firms", json={"firm_id": firm.json()["id"]})
        assert engaged.status_code in (200, 201), engaged.text
        waiting = company(served, browsers, "healthy", sync=False)
        add_member(waiting.owner, waiting.business_id, advisor, "advisor")
        # A business the advisor owns is theirs, not a client's.
        own = company(served, browsers, "healthy", "Advisor's Own Books", link=False)
        add_member(own.owner, own.business_id, advisor, "owner")

    digest = advisor_digest(served, advisor.email)
    mail = advisor_mail(digest, key="digest-advisor-test", sender=SENDER)

    names = [client.name for client in digest.clients]
    # Riskiest first: the shortest runway, then those without one yet.
    assert names == [crisis.name, tight.name, waiting.name]
    for name in names:
        assert name in mail.text
        assert name in text_of(mail.html)
    assert "Advisor's Own Books" not in mail.text
    assert "Its QuickBooks data is not synced yet." in mail.text
    crisis_line = digest.clients[0]
    assert crisis_line.figures is not None
    assert f"{BASE_URL}/businesses/{crisis.id}" in mail.html
    assert money(crisis_line.figures.free_cash, crisis_line.currency) in mail.text
    assert mail.to == (digest.advisor.address,)
    assert mail.subject == "Your clients this Friday: 3 businesses, 2 with cash running short"
