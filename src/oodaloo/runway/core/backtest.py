"""The forecast's track record on a business's own books: past weeks replayed, each forecast from only what was known
then and compared with what happened, beside a naive forecast that takes due dates at face value.

The replay. The days replayed are ``today - k weeks`` for each ``k`` from the horizon on (so every forecast week
compared has ended by yesterday: its outcome is known), back to the last day with at least ``HISTORY_WEEKS`` weeks of
books before it (from the business's oldest invoice, bill or bank movement), and at most ``MAX_AS_OF_WEEKS`` of them.
As of each such day D, the forecast is the one the runway would have shown at the end of D: the books as they stood
then (transactions dated on or before D: cash, open invoices and bills, customers' habits, recurring outflows and
invoicing schedules detected then), without the decisions people made since (bill plans, edited recurring items,
reserves), which were not known on D. The books are loaded once; each day is pure arithmetic.

The naive forecast is the same forecast with one difference: each invoice is collected on its due date, an overdue one
in the first week (on D) — the open invoices and those a customer's invoicing schedule makes expected alike. Bills,
recurring outflows and cash are identical, so the two figures compare the collection model alone.

The figures, over every day D and forecast week h = 1..horizon (the forecast's own weeks: week h is the seven days
from D + 7(h-1)):

* ``collections_wape``: the sum of |forecast - actual| over the sum of actual, of each week's collections from the
  invoices open at D. Forecast: those invoices' balances dated in the week; actual: what settled them that week (by
  payments or credits applied: a balance the forecast expects in and a credit that wipes it out is the forecast's
  error). None when nothing was collected in any replayed week (there is nothing to measure against).
* ``cash_mae``: the mean absolute difference between the forecast's ending cash of week h and the bank total at the
  end of that week's last day, in the business's currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import anyio.to_thread
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.history import UNDATED
from oodaloo.domains.ap.recurring import detect_recurring, recurring_items
from oodaloo.domains.ar.behaviour import Behaviours, DelayDistribution, ExpectedCollection, PaymentHabit
from oodaloo.domains.ar.history import OpenInvoice, Receivables
from oodaloo.domains.core.kpis import require_synced
from oodaloo.domains.core.models import Business
from oodaloo.infra.web.errors import Conflict, InvalidInput
from oodaloo.runway.core.forecast import HORIZON_DAYS, WEEKS, ZERO, Forecast, ForecastInputs, Inflow, forecast
from oodaloo.runway.core.recurring_inflows import expected_invoices
from oodaloo.runway.core.runway_calculator import Books, RunwayBasis, basis_of, load_books

# A replayed day needs this much of the business's books before it: customers' habits and recurring outflows are
# learned from history, and a forecast from a few days of books would measure the lack of history, not the model.
HISTORY_WEEKS = 8
# The last year at most: older weeks say little about how the forecast does now, and each costs a forecast.
MAX_AS_OF_WEEKS = 52
DEFAULT_HORIZON_WEEKS = 4
MAX_HORIZON_WEEKS = WEEKS  # the forecast has no weeks beyond its 13
INVOICE = "invoice"
EXPECTED_INVOICE = "expected_invoice"  # an invoice a customer's invoicing schedule makes expected, not issued yet
WAPE_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")


class NotEnoughHistory(Conflict):
    code = "not_enough_history"


class HorizonOutOfRange(InvalidInput):
    def __init__(self, horizon_weeks: int) -> None:
        super().__init__(
            f"The horizon must be 1 to {MAX_HORIZON_WEEKS} weeks (the forecast's own), not {horizon_weeks}.",
            field="horizon_weeks",
        )


# ------------------------------------------------------------------------------------------------- the replay
@dataclass(frozen=True)
class ReplayedDay:
    """The two forecasts made as of ``as_of`` from the books known then, and the invoices open that day."""

    as_of: date
    ours: Forecast
    naive: Forecast
    open_invoice_ids: frozenset[str]


@dataclass(frozen=True)
class Errors:
    """One forecast's errors over every replayed day and compared week."""

    collections_wape: Decimal | None  # a ratio, to four places
    cash_mae: Decimal  # in the business's currency, to the cent


@dataclass(frozen=True)
class Backtest:
    """Our forecast's errors and the naive one's, over the same replayed days."""

    as_of_days: tuple[date, ...]  # oldest first
    horizon_weeks: int
    collected: Decimal  # the actual collections all the compared weeks add up to (the WAPE's denominator)
    ours: Errors
    naive: Errors


def replay_days(books: Books, today: date, horizon_weeks: int = DEFAULT_HORIZON_WEEKS) -> list[date]:
    """The days replayed, oldest first; NotEnoughHistory (saying why) when there is none."""
    _check_horizon(horizon_weeks)
    first = first_day(books)
    if first is None:
        raise NotEnoughHistory(
            f"A backtest needs at least {HISTORY_WEEKS} weeks of history before a replayed week, and this business's "
            "books have no dated transactions yet."
        )
    earliest = first + timedelta(weeks=HISTORY_WEEKS)
    days = [today - timedelta(weeks=horizon_weeks + back) for back in range(MAX_AS_OF_WEEKS)]
    days = [day for day in days if day >= earliest]
    if not days:
        latest = today - timedelta(weeks=horizon_weeks)
        raise NotEnoughHistory(
            f"A backtest needs at least {HISTORY_WEEKS} weeks of history before a replayed week and {horizon_weeks} "
            f"weeks after it: this business's books start on {first.isoformat()}, so the first week it can replay "
            f"starts on {earliest.isoformat()}, and the last one with its outcome known started on "
            f"{latest.isoformat()} (today is {today.isoformat()})."
        )
    return sorted(days)


def first_day(books: Books) -> date | None:
    """The date of the business's oldest transaction the forecast reads (invoices, bills, bank movements)."""
    dated: Iterable[date | None] = (
        *(invoice.txn_date for invoice in books.receivables.invoices[:1]),
        *(bill.txn_date for bill in books.payables.bills if bill.txn_date not in (None, UNDATED)),
        *(movement.day for movement in books.ledger.movements if movement.day != UNDATED),
    )
    return min((day for day in dated if day is not None), default=None)


def replay(books: Books, as_of: date) -> ReplayedDay:
    """Our forecast and the naive one as of ``as_of``, from only what the books held at the end of it."""
    # Recurring outflows as detected then, without people's changes to them (made since, not known that day).
    recurring = recurring_items(
        detect_recurring(books.spending, as_of), (), as_of, card_names=books.spending.card_names
    )
    basis = basis_of(books, as_of, recurring, replay=True)
    open_ids = frozenset(invoice.invoice_id for invoice in books.receivables.open_as_of(as_of))
    return ReplayedDay(as_of, forecast(basis.inputs), forecast(naive_inputs(basis, books.receivables)), open_ids)


def naive_inputs(basis: RunwayBasis, receivables: Receivables) -> ForecastInputs:
    """``basis``'s inputs with every invoice collected on its due date (an overdue one today): the open ones, and
    those a customer's invoicing schedule makes expected. Cash, bills and recurring outflows are left as they are."""
    inputs = basis.inputs
    today, until = inputs.today, inputs.today + timedelta(days=HORIZON_DAYS)
    at_due_date = DueDates(today)
    inflows = [_at_due_date(inflow, receivables, today) for inflow in inputs.inflows if inflow.kind != EXPECTED_INVOICE]
    inflows += [inflow for series in basis.invoicing for inflow in expected_invoices(series, at_due_date, today, until)]
    return replace(inputs, inflows=inflows)


def _at_due_date(inflow: Inflow, receivables: Receivables, today: date) -> Inflow:
    invoice = receivables.by_id.get(inflow.source_id) if inflow.kind == INVOICE else None
    if invoice is None:
        return inflow
    on = max(invoice.due_date, today)
    return replace(inflow, date=on, early=on, late=on, reason=_naive_reason(on))


def _naive_reason(on: date) -> str:
    return f"Naive: collected on its due date, or today when overdue ({on.isoformat()})."


class DueDates(Behaviours):
    """The naive collection model, in the shape of the learned one: every invoice is paid on its due date, an
    overdue one today; no customer's habit counts."""

    def __init__(self, as_of: date) -> None:
        nobody = PaymentHabit.of((), 0)
        super().__init__(as_of, nobody, DelayDistribution.estimate({0: 1.0}, {}), {}, {})

    def expected_collection(self, invoice: OpenInvoice, as_of: date | None = None) -> ExpectedCollection:
        on = max(invoice.due_date, as_of or self.as_of)
        return ExpectedCollection(expected=on, early=on, late=on, reason=_naive_reason(on))


def backtest(books: Books, today: date, horizon_weeks: int = DEFAULT_HORIZON_WEEKS) -> Backtest:
    """Both forecasts' errors over the replayed days (see the module's docstring)."""
    days = replay_days(books, today, horizon_weeks)
    collected = ours_collections = naive_collections = ours_cash = naive_cash = ZERO
    for day in days:
        replayed = replay(books, day)
        for number in range(1, horizon_weeks + 1):
            week = replayed.ours.week(number)
            actual = books.receivables.collected_between(
                replayed.open_invoice_ids, week.start, week.end, include_credits=True
            )
            cash = books.ledger.cash_as_of(week.end)
            collected += actual
            ours_collections += abs(_collections(replayed.ours, number) - actual)
            naive_collections += abs(_collections(replayed.naive, number) - actual)
            ours_cash += abs(week.ending - cash)
            naive_cash += abs(replayed.naive.week(number).ending - cash)
    compared = len(days) * horizon_weeks
    return Backtest(
        as_of_days=tuple(days),
        horizon_weeks=horizon_weeks,
        collected=collected,
        ours=Errors(_ratio(ours_collections, collected), _mean(ours_cash, compared)),
        naive=Errors(_ratio(naive_collections, collected), _mean(naive_cash, compared)),
    )


def _collections(result: Forecast, week_number: int) -> Decimal:
    return sum((item.amount for item in result.week(week_number).inflow_items if item.kind == INVOICE), ZERO)


def _ratio(error: Decimal, actual: Decimal) -> Decimal | None:
    return (error / actual).quantize(WAPE_PLACES, ROUND_HALF_UP) if actual > 0 else None


def _mean(total: Decimal, count: int) -> Decimal:
    return (total / count).quantize(CENTS, ROUND_HALF_UP)


def _check_horizon(horizon_weeks: int) -> None:
    if not 1 <= horizon_weeks <= MAX_HORIZON_WEEKS:
        raise HorizonOutOfRange(horizon_weeks)


# -------------------------------------------------------------------------------------------------- the reply
class ErrorsOut(BaseModel):
    collections_wape: Decimal | None = Field(
        description="Weighted absolute percentage error of the weekly collections from the invoices open on each "
        "replayed day: the sum of |forecast - actual| over the sum of actual (a ratio: 0.25 is 25%); null when "
        "nothing was collected in any compared week."
    )
    cash_mae: Decimal = Field(
        description="Mean absolute error of the forecast's ending cash of each compared week against the bank total "
        "at that week's end, in the business's currency."
    )


class BacktestOut(BaseModel):
    as_of_weeks: int = Field(description="How many past weeks were replayed (at most 52).")
    horizon_weeks: int = Field(description="Forecast weeks compared after each replayed day.")
    ours: ErrorsOut = Field(description="Our forecast: each invoice at its customer's expected date.")
    naive: ErrorsOut = Field(
        description="The same forecast with each invoice collected on its due date (an overdue one in the first "
        "week): the comparison isolates the collection model."
    )
    currency: str
    first_as_of: date = Field(description="The oldest replayed day.")
    last_as_of: date = Field(description="The latest replayed day; its last compared week ended by yesterday.")
    collected: Decimal = Field(description="What came in over the compared weeks from the invoices open then.")

    @classmethod
    def of(cls, result: Backtest, currency: str) -> BacktestOut:
        return cls(
            as_of_weeks=len(result.as_of_days),
            horizon_weeks=result.horizon_weeks,
            ours=ErrorsOut(collections_wape=result.ours.collections_wape, cash_mae=result.ours.cash_mae),
            naive=ErrorsOut(collections_wape=result.naive.collections_wape, cash_mae=result.naive.cash_mae),
            currency=currency,
            first_as_of=result.as_of_days[0],
            last_as_of=result.as_of_days[-1],
            collected=result.collected,
        )


# ------------------------------------------------------------------------------------------------ the service
class BacktestService:
    """One business's backtest, read through the caller's session (nothing is written)."""

    def __init__(self, session: AsyncSession, business: Business) -> None:
        self._session = session
        self._business = business

    async def run(self, horizon_weeks: int = DEFAULT_HORIZON_WEEKS) -> BacktestOut:
        _check_horizon(horizon_weeks)
        await require_synced(self._session, self._business)
        books = await load_books(self._session, self._business)
        # A year of forecasts is seconds of arithmetic: done off the event loop, so other requests are served meanwhile.
        result = await anyio.to_thread.run_sync(backtest, books, self._business.today(), horizon_weeks)
        return BacktestOut.of(result, self._business.currency)
