"""Many rows of a column select, read with Core's result processing rather than the ORM's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVarTuple

from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.infra.collector import collector_paused

Ts = TypeVarTuple("Ts")


async def column_rows(session: AsyncSession, statement: Select[*Ts]) -> Sequence[Row[*Ts]]:
    """Every row of ``statement`` (columns, not mapped objects) in ``session``'s transaction. Executed on the session's
    connection, its rows skip the ORM's loading step, which costs a third more on tens of thousands of rows; pending
    ORM changes are flushed first, as ``session.execute`` would."""
    await session.flush()
    connection = await session.connection()
    result = await connection.execute(statement)
    with collector_paused():  # the rows are built here, all at once, and kept
        return result.all()
