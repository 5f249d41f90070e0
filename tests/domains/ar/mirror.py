"""A sandbox realm synced into the test database's mirror, and its receivables loaded from there (with the SQL
statements the load sent, counted)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from oodaloo.domains.ar.history import Receivables, load_receivables
from oodaloo.domains.qbo.mirror_models import SyncOutcome
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from tests.domains.qbo.mirror_support import Harness, Realm


@dataclass(frozen=True)
class Loaded:
    receivables: Receivables
    statements: int


def synced(database_url: str, realm: Realm) -> Harness:
    """A new business of the test database connected to ``realm``, its mirror fully synced."""
    harness = Harness.connect(database_url, realm)
    report = harness.run(lambda mirror: mirror.full(harness.business_id))
    assert report.outcome is SyncOutcome.SUCCEEDED
    return harness


def load(database_url: str, business_id: uuid.UUID) -> Loaded:
    async def go() -> Loaded:
        database = Database(database_url)
        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(database.engine.sync_engine, "before_cursor_execute", count)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                receivables = await load_receivables(session, business_id)
            return Loaded(receivables, statements)
        finally:
            await database.dispose()

    return asyncio.run(go())


def execute(database_url: str, statement: Any) -> None:
    """Change the mirror behind the sync's back (what a test needs that QBO would never send)."""

    async def go() -> None:
        database = Database(database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                await session.execute(statement)
        finally:
            await database.dispose()

    asyncio.run(go())
