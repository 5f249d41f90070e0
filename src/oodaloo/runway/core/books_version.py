"""A business's books version: a value that changes whenever anything its forecast reads changes — a mirror row (a
sync's upserts and deletes, our own writes' revisions), a bill plan or vendor setting, a reserve or the floor, a
recurring-item edit, a scheduled payment. One query, answered from indexes, so a cached forecast can be checked on
every request (``runway.core.cache``).

Every such row carries a change stamp its writers set on insert and update (``synced_at`` on mirror rows, the
decisions' ``updated_at``/``set_at``). Per table and business the version holds three figures:
- the newest stamp: any change written after the last one read moves it;
- the number of rows: a deleted row moves it (the newest stamp may stay);
- the sum of the rows' stamps within their minute, in microseconds: a row restamped *below* the newest (a transaction
  that took its stamp before another's but committed after it — concurrent writers, or app servers whose clocks
  disagree) moves it, where the newest stamp and the count would not.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, Uuid, bindparam, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from oodaloo.domains.ap.decisions import BillPlan, VendorSetting
from oodaloo.domains.ap.recurring import RecurringEdit
from oodaloo.domains.ap.scheduled_models import ScheduledPayment
from oodaloo.domains.core.reserves import Reserve, ReserveFloor
from oodaloo.domains.qbo.mirror_models import MIRRORED

# (table, its business column, its change stamp) for everything ``runway_calculator.load_books`` and the recurring
# items read. Each mirror table has an index on (business_id, synced_at) (migration 0011); the decisions' tables are
# a business's handful of rows, found by the indexes their unique keys give.
STAMPED: tuple[tuple[Any, InstrumentedAttribute[Any], InstrumentedAttribute[Any]], ...] = (
    *((model, model.business_id, model.synced_at) for model in MIRRORED.values()),
    (VendorSetting, VendorSetting.business_id, VendorSetting.updated_at),
    (BillPlan, BillPlan.business_id, BillPlan.set_at),
    (Reserve, Reserve.business_id, Reserve.updated_at),
    (ReserveFloor, ReserveFloor.business_id, ReserveFloor.updated_at),
    (RecurringEdit, RecurringEdit.business_id, RecurringEdit.updated_at),
    (ScheduledPayment, ScheduledPayment.business_id, ScheduledPayment.updated_at),
)


@dataclass(frozen=True)
class BooksVersion:
    """Equal versions: nothing the forecast reads changed in between (for each table, its newest stamp, its row count
    and its stamp sum, in ``STAMPED`` order)."""

    marks: tuple[Hashable, ...]


async def books_version(session: AsyncSession, business_id: uuid.UUID) -> BooksVersion:
    """The business's books version now, in one round trip."""
    statement = _version_query(session.get_bind().dialect.name)
    row = (await session.execute(statement, {"business_id": business_id})).one()
    return BooksVersion(tuple(row))


@functools.cache
def _version_query(dialect: str) -> Select[Any]:
    """Built once per dialect (72 subqueries cost more to build than the database takes to answer them)."""
    business_id = bindparam("business_id", type_=Uuid())
    figures: list[Any] = []
    for model, business, stamp in STAMPED:
        mine = business == business_id
        figures += [
            select(func.max(stamp)).where(mine).scalar_subquery(),
            select(func.count()).select_from(model).where(mine).scalar_subquery(),
            select(func.coalesce(func.sum(_microseconds_in_minute(stamp, dialect)), 0)).where(mine).scalar_subquery(),
        ]
    return select(*figures)


def _microseconds_in_minute(stamp: InstrumentedAttribute[Any], dialect: str) -> ColumnElement[Any]:
    """A stamp's seconds and microseconds as one whole number (0 to 59,999,999): exact, so a sum of them is too."""
    if dialect == "sqlite":
        # SQLite keeps a datetime as text, "YYYY-MM-DD HH:MM:SS.ffffff": seconds at 18, microseconds at 21.
        return cast(func.substr(stamp, 18, 2).concat(func.substr(stamp, 21, 6)), Integer)
    return extract("microseconds", stamp)  # PostgreSQL: the seconds field, fraction included, in microseconds
