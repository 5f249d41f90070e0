"""Storing pages of QBO objects in the mirror: the newer-or-equal version wins (SyncToken, then LastUpdatedTime), a
deleted object stays deleted with its last full version, typed columns are read from the object, and amounts come back
with exactly the digits QBO sent, for a page larger than one statement's bind parameters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.dialects import sqlite

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.mirror_models import MirroredBill, MirrorStatus, Raw
from oodaloo.domains.qbo.mirror_repository import MirrorRepository, _quicker
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.exact_json import loads_exact

T = TypeVar("T")
Step = Callable[[MirrorRepository], Awaitable[T]]


def bill(qbo_id: str, token: str, updated: str, balance: str = "120.50", **fields: Any) -> Raw:
    return {
        "Id": qbo_id,
        "SyncToken": token,
        "MetaData": {"CreateTime": "2026-01-05T09:00:00-08:00", "LastUpdatedTime": updated},
        "VendorRef": {"value": "56", "name": "Bob's Burger Joint"},
        "DocNumber": "B-" + qbo_id,
        "TxnDate": "2026-01-05",
        "DueDate": "2026-02-04",
        "TotalAmt": Decimal("120.50"),
        "Balance": Decimal(balance),
        **fields,
    }


def deleted_stub(qbo_id: str, updated: str) -> Raw:
    return {"Id": qbo_id, "status": "Deleted", "domain": "QBO", "MetaData": {"LastUpdatedTime": updated}}


class Mirror:
    """One business's mirrored bills; each step runs in its own unit of work, as a sync stores each page."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def run(self, *steps: Step[Any]) -> list[Any]:
        return asyncio.run(self._run(steps))

    async def _run(self, steps: tuple[Step[Any], ...]) -> list[Any]:
        database = Database(self.database_url)
        try:
            async with unit_of_work(database.sessionmaker) as session:
                business = Business(name="Mirror repository test", timezone="UTC")
                session.add(business)
                await session.flush()
                business_id = business.id
            results = []
            for step in steps:
                async with unit_of_work(database.sessionmaker) as session:
                    results.append(await step(MirrorRepository.of(session, business_id, "Bill")))
            return results
        finally:
            await database.dispose()


def store(*raws: Raw) -> Step[int]:
    async def step(repository: MirrorRepository) -> int:
        return await repository.store(list(raws))

    return step


def row(qbo_id: str) -> Step[MirroredBill]:
    async def step(repository: MirrorRepository) -> MirroredBill:
        found = (await repository.by_qbo_ids([qbo_id]))[qbo_id]
        assert isinstance(found, MirroredBill)
        return found

    return step


T1 = "2026-01-05T09:00:00-08:00"
T2 = "2026-01-05T09:00:01-08:00"


def test_a_newer_or_equal_version_replaces_the_stored_one_and_an_older_one_does_not(database_url: str) -> None:
    changed = Mirror(database_url).run(
        store(bill("1", "0", T1), bill("2", "3", T2)),
        store(bill("1", "1", T1, balance="20.50")),  # a higher SyncToken
        store(bill("1", "0", T2, balance="99.00")),  # an older SyncToken, however late
        store(bill("2", "3", T1, balance="99.00")),  # the same SyncToken, an earlier time
        store(bill("2", "3", T2, balance="0.00")),  # the same SyncToken and time: fetched last, so the later state
        store(bill("2", "3", T2, balance="0.00")),  # identical: nothing changes
        row("1"),
        row("2"),
    )
    assert changed[:6] == [2, 1, 0, 0, 1, 0]
    first, second = changed[6:]
    assert (first.sync_token, first.balance, first.raw["Balance"]) == ("1", Decimal("20.50"), Decimal("20.50"))
    assert (second.balance, second.raw["Balance"]) == (Decimal("0.00"), Decimal("0.00"))


def test_a_deleted_object_keeps_its_last_version_and_is_never_brought_back(database_url: str) -> None:
    changed = Mirror(database_url).run(
        store(bill("7", "2", T1)),
        store(deleted_stub("7", T2)),
        store(bill("7", "9", T2, balance="1.00")),  # a later version seen after the delete (a stale page)
        store(deleted_stub("7", T2)),
        store(deleted_stub("8", T2)),  # deleted before the mirror ever saw it
        row("7"),
        row("8"),
    )
    assert changed[:5] == [1, 1, 0, 0, 1]
    kept, stub = changed[5:]
    assert kept.status is MirrorStatus.DELETED
    assert kept.deleted_at is not None
    assert (kept.sync_token, kept.balance, kept.raw["DocNumber"]) == ("2", Decimal("120.50"), "B-7")
    assert stub.status is MirrorStatus.DELETED
    assert stub.raw["status"] == "Deleted"


def test_one_page_keeps_the_newest_of_an_object_seen_twice_and_ends_deleted_if_deleted(database_url: str) -> None:
    changed = Mirror(database_url).run(
        store(bill("3", "4", T1, balance="4.00"), bill("3", "2", T2, balance="2.00"), bill("4", "1", T1)),
        store(bill("4", "2", T1), deleted_stub("4", T2)),
        row("3"),
        row("4"),
    )
    assert changed[:2] == [2, 2]
    newest, deleted = changed[2:]
    assert (newest.sync_token, newest.balance) == ("4", Decimal("4.00"))
    assert deleted.status is MirrorStatus.DELETED
    assert deleted.sync_token == "2"


def test_a_large_page_is_stored_exactly_with_its_typed_columns(database_url: str) -> None:
    count = 2500  # more rows than one statement can bind on SQLite or PostgreSQL
    page = [
        bill(
            str(n), "0", T1, balance=f"{n}.{n % 100:02d}", PrivateNote=f"Café n°{n}", Line=[{"Amount": Decimal("1E+2")}]
        )
        for n in range(1, count + 1)
    ]
    changed = Mirror(database_url).run(store(*page), store(*page), row("2499"))
    assert changed[:2] == [count, 0]
    stored = changed[2]
    assert stored.raw == page[2498]
    assert stored.raw["Balance"] == Decimal("2499.99")
    assert str(stored.raw["Balance"]) == "2499.99"
    assert stored.raw["PrivateNote"] == "Café n°2499"
    assert (stored.vendor_id, stored.due_date, stored.txn_date, stored.doc_number) == (
        "56",
        date(2026, 2, 4),
        date(2026, 1, 5),
        "B-2499",
    )
    assert stored.qbo_updated_at is not None
    assert stored.qbo_updated_at.isoformat() == "2026-01-05T17:00:00+00:00"
    assert stored.status is MirrorStatus.ACTIVE


def test_an_object_no_newer_than_a_revised_row_is_compared_by_version_not_content(database_url: str) -> None:
    """A row one of our writes revised keeps its version: QBO's own copy at that version or later replaces it."""

    async def revise(repository: MirrorRepository) -> bool:
        return await repository.revise("5", lambda raw: {**raw, "Balance": Decimal("0.00")})

    changed = Mirror(database_url).run(
        store(bill("5", "1", T1)), revise, store(bill("5", "1", T1, balance="120.50")), row("5")
    )
    assert changed[:3] == [1, True, 1]
    assert changed[3].balance == Decimal("120.50")


def test_ids_are_kept_per_business(database_url: str) -> None:
    first = Mirror(database_url).run(store(bill("9", "0", T1)), row("9"))
    second = Mirror(database_url).run(store(bill("9", "0", T1, balance="1.00")), row("9"))
    assert first[0] == second[0] == 1
    assert (first[1].balance, second[1].balance) == (Decimal("120.50"), Decimal("1.00"))
    assert first[1].business_id != second[1].business_id


def test_an_object_stored_with_its_own_bytes_keeps_them_exactly(database_url: str) -> None:
    """A sync hands the mirror each object's JSON as QBO sent it: stored as those very bytes (digits, key order and
    escapes untouched), read back with exact amounts, and the same bytes again change nothing."""
    sent = (
        b'{"Id":"3","SyncToken":"0","MetaData":{"CreateTime":"2026-01-05T09:00:00-08:00",'
        b'"LastUpdatedTime":"2026-01-05T09:00:00-08:00"},"TotalAmt":1.5E+2,"Balance":120.50,'
        b'"TxnDate":"2026-01-05","PrivateNote":"Caf\\u00e9"}'
    )
    parsed = loads_exact(sent)

    async def stored_text(repository: MirrorRepository) -> str:
        table = repository.model.__table__
        column = type_coerce(table.c.raw, Text)  # the column's text, not parsed
        return str(
            await repository.session.scalar(
                select(column).where(table.c.business_id == repository.business_id, table.c.qbo_id == "3")
            )
        )

    async def store_sent(repository: MirrorRepository) -> int:
        return await repository.store([parsed], [sent])

    changed = Mirror(database_url).run(store_sent, store_sent, stored_text, row("3"))
    assert changed[:2] == [1, 0]
    assert changed[2] == sent.decode()
    assert changed[3].raw == parsed
    assert (changed[3].total_amt, changed[3].balance, str(changed[3].raw["Balance"])) == (
        Decimal("150"),
        Decimal("120.50"),
        "120.50",
    )


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(timezones=st.timezones(), min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    day=st.dates(),
)
def test_sqlite_s_quicker_moment_and_day_texts_are_sqlalchemy_s_own(moment: datetime, day: date) -> None:
    """A page's times and dates are written to SQLite by ``isoformat`` rather than SQLAlchemy's formatting: the same
    text for any moment in any zone and any day, so what is stored, and how it is read back, is unchanged."""
    dialect = sqlite.dialect()
    moment_column, day_column = MirroredBill.__table__.c.qbo_updated_at, MirroredBill.__table__.c.due_date
    for column, value in ((moment_column, moment), (day_column, day), (moment_column, None), (day_column, None)):
        sqlalchemy_s = column.type.dialect_impl(dialect).bind_processor(dialect)
        assert sqlalchemy_s is not None
        quicker = _quicker(column.type, sqlalchemy_s, dialect)
        assert quicker is not sqlalchemy_s
        assert quicker(value) == sqlalchemy_s(value)
