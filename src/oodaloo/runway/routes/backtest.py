"""The forecast's track record, read by any member: ``GET /api/businesses/{business_id}/runway/backtest`` replays the
business's own past weeks and reports our forecast's errors beside a naive one's (due dates at face value)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from oodaloo.runway.core.backtest import (
    DEFAULT_HORIZON_WEEKS,
    HISTORY_WEEKS,
    MAX_HORIZON_WEEKS,
    BacktestOut,
    BacktestService,
)
from oodaloo.runway.deps import BusinessAccess, SessionDep

router = APIRouter(tags=["runway"])

CANNOT_BACKTEST: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The business's first sync has not completed (`mirror_not_synced`), or its books are too "
        f"short to replay a week: {HISTORY_WEEKS} weeks of history before it and the horizon after it "
        "(`not_enough_history`, the message says what the books hold)"
    }
}


@router.get("/api/businesses/{business_id}/runway/backtest", responses=CANNOT_BACKTEST)
async def runway_backtest(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    horizon_weeks: Annotated[
        int, Query(ge=1, le=MAX_HORIZON_WEEKS, description="Forecast weeks compared after each replayed week.")
    ] = DEFAULT_HORIZON_WEEKS,
) -> BacktestOut:
    """Each of the last 52 weeks (at most) with 8 weeks of history before it and its outcome known, forecast from
    only what the books held then and compared with what happened: the collections WAPE and the mean absolute error
    of ending cash, for our forecast and for a naive one that collects every invoice on its due date (an overdue one
    in the first week), all else identical."""
    return await BacktestService(session, access.business).run(horizon_weeks)
