"""The Friday digest: one page per business — runway and its change since last week with the reasons, cash, the
runway chart as an inline PNG, the late invoices most worth a call, the bills due this week, hygiene flags and plans
waiting for approval, with links into the console — as HTML (inline styles and tables: what mail clients render) and
as plain text; and one per advisor, a line per client business, riskiest first.

Figures come from the same places as the console's: the runway from ``RunwayService`` (runway core), the mirror's
facts from ``QBODataService.get_digest_data``, hygiene from the prep tray, last week's runway from the daily
snapshots. Building reads the database only; sending is ``digest_jobs.py``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.digest_audience import Recipient
from oodaloo.domains.core.models import Business, Role, User
from oodaloo.domains.core.service import BusinessService
from oodaloo.domains.core.snapshots import DailySnapshot, RunwayReading, SnapshotRepository
from oodaloo.domains.qbo.data_service import QBODataService
from oodaloo.domains.qbo.digest_data import DigestData
from oodaloo.domains.qbo.mirror_repository import MirrorNotSynced
from oodaloo.infra.mail import InlineImage, Mail
from oodaloo.runway.core.forecast import HORIZON_DAYS
from oodaloo.runway.core.schemas import RunwayOut
from oodaloo.runway.core.service import RunwayService
from oodaloo.runway.experiences.digest_chart import (
    DISPLAY_HEIGHT,
    DISPLAY_WIDTH,
    RunwayChart,
    draw_runway_chart,
    series_of,
)
from oodaloo.runway.experiences.phrases import money, register_filters, weeks_and_days
from oodaloo.runway.experiences.tray import Hygiene, hygiene_of

CHART_CID = "runway-chart"
# Last week's figure is the snapshot of 7 days ago, or the nearest before it up to this many days back; an older one
# would not be "last week".
OLDEST_BASELINE_DAYS = 13
# A change smaller than this is not a reason worth a line (rounding, a cent of interest).
MATERIAL_CHANGE = Decimal("1.00")
MAX_REASONS = 3

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
register_filters(_templates)


# ------------------------------------------------------------------------------------------------- the figures
@dataclass(frozen=True)
class Links:
    """Where the digest leads into the console (absolute: a mail has no base address)."""

    overview: str
    chase: str
    bills: str
    plan: str


def links_of(base_url: str, business_id: uuid.UUID) -> Links:
    base = f"{base_url.rstrip('/')}/businesses/{business_id}"
    return Links(overview=base, chase=f"{base}/chase", bills=f"{base}/bills", plan=f"{base}/plan")


@dataclass(frozen=True)
class RunwayChange:
    """The runway now against the snapshot of a week ago: how many days it moved, and what moved it."""

    since: date
    before: RunwayReading
    now: RunwayReading
    reasons: tuple[str, ...]

    @property
    def days(self) -> int:
        """Days gained (positive) or lost; a runway beyond the horizon counts as the horizon."""
        return self.now.capped_days - self.before.capped_days

    @property
    def headline(self) -> str:
        if self.days == 0:
            return "unchanged since last week"
        direction = "longer" if self.days > 0 else "shorter"
        at_least = "at least " if self.before.days is None or self.now.days is None else ""
        return f"{at_least}{weeks_and_days(abs(self.days))} {direction} than last week"


@dataclass(frozen=True)
class BusinessDigest:
    business_id: uuid.UUID
    name: str
    currency: str
    timezone: str
    week: date  # the Monday of the week it is sent in
    runway: RunwayOut
    change: RunwayChange | None  # None: no snapshot from a week ago yet
    data: DigestData
    hygiene: Hygiene
    links: Links
    chart: RunwayChart

    @property
    def runway_phrase(self) -> str:
        return runway_phrase(self.runway.runway.days)

    @property
    def figures(self) -> ClientFigures:
        """The line an advisor's digest gives this business: the figures its owners were sent."""
        return ClientFigures.of(self.runway, self.change, self.data, self.hygiene)


def runway_phrase(days: int | None) -> str:
    """``6 weeks and 3 days``, ``none: below the floor today``, ``beyond 13 weeks`` (``days`` None: no run-out within
    the horizon)."""
    if days is None:
        return f"beyond {HORIZON_DAYS // 7} weeks"
    if days == 0:
        return "none: free cash is below the reserve floor today"
    return weeks_and_days(days)


async def build_business_digest(
    session: AsyncSession, business: Business, *, week: date, base_url: str
) -> BusinessDigest:
    """The business's digest as its books stand now (MirrorNotSynced before its first sync)."""
    runway, data = await _runway_and_data(session, business)
    return BusinessDigest(
        business_id=business.id,
        name=business.name,
        currency=business.currency,
        timezone=business.timezone,
        week=week,
        runway=runway,
        change=await runway_change(session, business.id, runway, data),
        data=data,
        hygiene=await hygiene_of(session, business, runway.as_of),
        links=links_of(base_url, business.id),
        chart=draw_runway_chart(series_of(runway)),
    )


async def _runway_and_data(session: AsyncSession, business: Business) -> tuple[RunwayOut, DigestData]:
    """The runway, and the mirror's facts from the receivables the runway read (the books are read once)."""
    service = RunwayService(session, business)
    runway = await service.summary()
    receivables = await service.open_receivables()
    return runway, await QBODataService(session, business).get_digest_data(runway.as_of, receivables)


async def runway_change(
    session: AsyncSession, business_id: uuid.UUID, runway: RunwayOut, data: DigestData
) -> RunwayChange | None:
    today = runway.as_of
    baseline = await SnapshotRepository(session, business_id).latest_before(today - timedelta(days=6))
    if baseline is None or baseline.day < today - timedelta(days=OLDEST_BASELINE_DAYS):
        return None
    now = RunwayReading(runway.runway.days, HORIZON_DAYS)
    return RunwayChange(baseline.day, baseline.runway, now, _reasons(baseline, runway, data))


def _reasons(before: DailySnapshot, runway: RunwayOut, data: DigestData) -> tuple[str, ...]:
    """What moved since the snapshot, the largest changes first: cash, what customers owe, open bills, the burn."""
    currency = runway.currency

    def cash(amount: Decimal) -> str:
        return money(amount, currency)

    changes: list[tuple[Decimal, str]] = []
    moved = runway.starting_cash - before.cash
    if abs(moved) >= MATERIAL_CHANGE:
        verb = "rose" if moved > 0 else "fell"
        changes.append(
            (
                moved,
                f"Cash in the bank {verb} by {cash(abs(moved))}, from {cash(before.cash)} to "
                f"{cash(runway.starting_cash)}.",
            )
        )
    owed = data.receivables_total - before.ar_total
    if abs(owed) >= MATERIAL_CHANGE:
        how = "more" if owed > 0 else "less"
        why = "newly invoiced or not yet paid" if owed > 0 else "collected or credited"
        changes.append((owed, f"Customers owe {cash(abs(owed))} {how} ({why}): {cash(data.receivables_total)} open."))
    billed = data.payables_total - before.ap_total
    if abs(billed) >= MATERIAL_CHANGE:
        how = "more" if billed > 0 else "less"
        why = "new bills" if billed > 0 else "paid or credited"
        changes.append(
            (billed, f"You owe vendors {cash(abs(billed))} {how} ({why}): {cash(data.payables_total)} open.")
        )
    burned = runway.burn - before.burn
    if abs(burned) >= MATERIAL_CHANGE:
        verb = "rose" if burned > 0 else "fell"
        changes.append((burned, f"Weekly burn {verb} from {cash(before.burn)} to {cash(runway.burn)}."))
    changes.sort(key=lambda change: -abs(change[0]))
    return tuple(sentence for _, sentence in changes[:MAX_REASONS])


# ------------------------------------------------------------------------------------------------- the advisor's
@dataclass(frozen=True)
class ClientFigures:
    """What an advisor's digest says of one client business. Kept with the business's own digest of the week when it
    is sent (``as_json``), so the advisor's quotes the very figures the owners received, without computing them
    again."""

    runway_days: int | None  # None: free cash stays above the floor over the 13 weeks
    free_cash: Decimal
    change_headline: str | None  # None: no figure from a week ago
    late_count: int
    late_total: Decimal
    bills_due_count: int
    bills_due_total: Decimal
    hygiene_score: int
    pending_approvals: int

    @classmethod
    def of(cls, runway: RunwayOut, change: RunwayChange | None, data: DigestData, hygiene: Hygiene) -> ClientFigures:
        return cls(
            runway_days=runway.runway.days,
            free_cash=runway.free_cash,
            change_headline=change.headline if change is not None else None,
            late_count=data.late_count,
            late_total=data.late_total,
            bills_due_count=data.bills_due_count,
            bills_due_total=data.bills_due_total,
            hygiene_score=hygiene.score,
            pending_approvals=len(data.pending_approvals),
        )

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (amounts as strings: exact)."""
        stored: dict[str, Any] = msgspec.to_builtins(self)
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> ClientFigures:
        return msgspec.convert(stored, cls)


@dataclass(frozen=True)
class ClientLine:
    """One client business in an advisor's digest. ``figures`` None: no runway yet (``note`` says why)."""

    business_id: uuid.UUID
    name: str
    currency: str
    link: str
    figures: ClientFigures | None
    note: str | None

    @property
    def runway_phrase(self) -> str:
        return runway_phrase(self.figures.runway_days) if self.figures is not None else "not known yet"

    @property
    def risk(self) -> tuple[int, int, str]:
        """Sort key, riskiest first: the shortest runway; clients without one after those with one."""
        if self.figures is None:
            return (1, 0, self.name.casefold())
        days = self.figures.runway_days
        return (0, HORIZON_DAYS + 1 if days is None else days, self.name.casefold())


@dataclass(frozen=True)
class AdvisorDigest:
    advisor: Recipient
    week: date
    clients: tuple[ClientLine, ...]
    portfolio_link: str

    @property
    def at_risk(self) -> list[ClientLine]:
        """Clients whose free cash falls below their floor within the 13 weeks."""
        return [
            client for client in self.clients if client.figures is not None and client.figures.runway_days is not None
        ]


async def advisor_clients(session: AsyncSession, user: User) -> list[Business]:
    """Every business ``user`` reaches as an advisor (directly or through a firm), oldest first."""
    return [entry.business for entry in await BusinessService(session).list_for(user) if entry.role is Role.ADVISOR]


async def build_advisor_digest(
    session: AsyncSession,
    user: User,
    *,
    week: date,
    base_url: str,
    sent: Mapping[uuid.UUID, ClientFigures] | None = None,
) -> AdvisorDigest:
    """``sent``: clients' figures as their own digests of the week gave them; any other client's are computed now."""
    sent = sent or {}
    clients = [
        await _client_line(session, business, base_url, sent.get(business.id))
        for business in await advisor_clients(session, user)
    ]
    return AdvisorDigest(
        advisor=Recipient(user.id, user.display_name, user.email),
        week=week,
        clients=tuple(sorted(clients, key=lambda client: client.risk)),
        portfolio_link=f"{base_url.rstrip('/')}/portfolio",
    )


async def _client_line(
    session: AsyncSession, business: Business, base_url: str, sent: ClientFigures | None
) -> ClientLine:
    link = links_of(base_url, business.id).overview
    if sent is not None:
        return ClientLine(business.id, business.name, business.currency, link, sent, None)
    try:
        runway, data = await _runway_and_data(session, business)
    except MirrorNotSynced:
        note = (
            "Not connected to QuickBooks yet."
            if business.qbo_realm_id is None
            else "Its QuickBooks data is not synced yet."
        )
        return ClientLine(business.id, business.name, business.currency, link, None, note)
    change = await runway_change(session, business.id, runway, data)
    hygiene = await hygiene_of(session, business, runway.as_of)
    figures = ClientFigures.of(runway, change, data, hygiene)
    return ClientLine(business.id, business.name, business.currency, link, figures, None)


# ------------------------------------------------------------------------------------------------- the mails
def business_mail(digest: BusinessDigest, *, key: str, sender: str, to: Sequence[Recipient]) -> Mail:
    context = _context(digest=digest)
    subject = f"{digest.name}: runway {digest.runway_phrase}"
    if digest.change is not None:
        subject += f", {digest.change.headline}"
    return Mail(
        key=key,
        sender=sender,
        to=tuple(recipient.address for recipient in to),
        subject=subject,
        text=_templates.get_template("digest/business.txt").render(context),
        html=_templates.get_template("digest/business.html").render(context),
        images=(InlineImage(CHART_CID, digest.chart.png, "runway.png"),),
    )


def advisor_mail(digest: AdvisorDigest, *, key: str, sender: str) -> Mail:
    context = _context(digest=digest)
    at_risk = len(digest.at_risk)
    subject = f"Your clients this Friday: {len(digest.clients)} businesses, {at_risk} with cash running short"
    return Mail(
        key=key,
        sender=sender,
        to=(digest.advisor.address,),
        subject=subject,
        text=_templates.get_template("digest/advisor.txt").render(context),
        html=_templates.get_template("digest/advisor.html").render(context),
    )


def _context(**values: Any) -> dict[str, Any]:
    return {
        **values,
        "chart_cid": CHART_CID,
        "chart_width": DISPLAY_WIDTH,
        "chart_height": DISPLAY_HEIGHT,
    }
