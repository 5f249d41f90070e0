"""The runway as the API serves it: a business's forecast today (summary and weeks), one week's items with their
reasons, and the impact of what-if changes. Read-only: everything comes from the mirror and people's decisions,
through the process's runway cache (computed again only when the business's books changed)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.payables import MirrorNotSynced
from oodaloo.domains.ar.collections import OpenReceivables
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository
from oodaloo.infra.web.errors import InvalidInput, NotFound
from oodaloo.runway.core.cache import CurrentRunway, RunwayCache, runway_cache
from oodaloo.runway.core.forecast import WEEKS, InvalidChange, impact
from oodaloo.runway.core.schemas import (
    ImpactIn,
    ImpactOut,
    LaterOut,
    RunwayOut,
    WeekDetailOut,
    WeekOut,
    change_of,
    impact_out,
    runway_figure_out,
    week_detail_out,
    week_fields,
)


class WeekOutOfRange(NotFound):
    code = "week_not_found"

    def __init__(self, number: int) -> None:
        super().__init__(f"Week {number} is out of range: the forecast's weeks are numbered 1 to {WEEKS}.", field="n")


class RunwayService:
    """One business's runway, read through the caller's session."""

    def __init__(self, session: AsyncSession, business: Business, cache: RunwayCache = runway_cache) -> None:
        self._session = session
        self._business = business
        self._cache = cache

    async def summary(self) -> RunwayOut:
        current = await self._current()
        basis, result = current.basis, current.forecast
        return RunwayOut(
            as_of=result.today,
            timezone=self._business.timezone,
            currency=self._business.currency,
            starting_cash=result.starting_cash,
            reserves=result.reserves_today,
            free_cash=result.free_cash_today,
            reserve_floor=result.reserve_floor,
            burn=basis.burn,
            runway=runway_figure_out(result.runway),
            runway_low=runway_figure_out(result.runway_low),
            lowest_free_cash=result.lowest_free_cash,
            lowest_free_cash_on=result.lowest_free_cash_on,
            ending_cash=result.ending_cash,
            later=LaterOut(
                inflows=result.later.inflows,
                outflows=result.later.outflows,
                inflow_count=result.later.inflow_count,
                outflow_count=result.later.outflow_count,
            ),
            weeks=[WeekOut(**week_fields(week)) for week in result.weeks],
        )

    async def open_receivables(self) -> OpenReceivables:
        """Today's open invoices and customers' habits, as the forecast used them (kept with it: no second read)."""
        return (await self._current()).basis.receivables

    async def week(self, number: int) -> WeekDetailOut:
        if not 1 <= number <= WEEKS:
            raise WeekOutOfRange(number)
        current = await self._current()
        return week_detail_out(current.forecast.week(number))

    async def impact(self, body: ImpactIn) -> ImpactOut:
        """The runway before and after ``body.changes`` (applied in order); a change that cannot apply is refused
        naming it (``changes.2.amount``)."""
        current = await self._current()
        changes = [change_of(index, change) for index, change in enumerate(body.changes)]
        try:
            return impact_out(impact(current.basis.inputs, changes, baseline=current.forecast))
        except InvalidChange as refused:
            raise InvalidInput(refused.message, field=f"changes.{refused.index}.{refused.field}") from None

    async def _current(self) -> CurrentRunway:
        state = await SyncStateRepository(self._session, self._business.id).current()
        # Until a first full sync of its realm completed, the mirror proves nothing (an empty one is not "no bills").
        if state is None or state.cdc_cursor is None or state.realm_id != self._business.qbo_realm_id:
            raise MirrorNotSynced()
        return await self._cache.current(self._session, self._business)
