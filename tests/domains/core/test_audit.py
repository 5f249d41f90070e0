"""The audit log against the database: an event is committed exactly with the change it describes, the database refuses
to rewrite one, and a deleted account leaves its events (without the actor)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from oodaloo.domains.core.audit import AuditEvent, AuditLog
from oodaloo.domains.core.models import Business, User
from oodaloo.domains.core.schemas import BusinessIn
from oodaloo.domains.core.service import AccountService, BusinessService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from tests.conftest import unique_email
from tests.support.credentials import TEST_PASSWORD


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


async def new_owner_and_business(database: Database) -> tuple[User, Business]:
    async with unit_of_work(database.sessionmaker) as session:
        user = await AccountService(session).sign_up(unique_email("audit"), TEST_PASSWORD, "Ada")
        business = await BusinessService(session).create(user, BusinessIn(name="Audited Co", timezone="UTC"))
    return user, business


async def actions_of(database: Database, business: Business) -> list[str]:
    async with unit_of_work(database.sessionmaker) as session:
        page = await AuditLog(session).page(business.id, limit=100)
    return [event.action for event, _actor in page.events]


class Abandoned(Exception):
    pass


async def test_an_event_is_committed_with_its_change_or_not_at_all(database: Database) -> None:
    owner, business = await new_owner_and_business(database)

    async def approve_then_fail() -> None:
        async with unit_of_work(database.sessionmaker) as session:
            await AuditLog(session).record(business.id, owner.id, "plan.approved", subject=("plan", "p-1"))
            raise Abandoned()  # the change failed after the event was written: neither is kept

    with pytest.raises(Abandoned):
        await approve_then_fail()
    assert await actions_of(database, business) == ["business.created"]

    async with unit_of_work(database.sessionmaker) as session:
        await AuditLog(session).record(
            business.id, None, "action.executed", subject=("bill", 146), detail={"amount": Decimal("120.50")}
        )
    async with unit_of_work(database.sessionmaker) as session:
        page = await AuditLog(session).page(business.id)
    (newest, actor), _created = page.events
    assert (newest.action, newest.subject_type, newest.subject_id, actor) == ("action.executed", "bill", "146", None)
    assert newest.detail == {"amount": "120.50"}  # money as its digits, never a float


async def test_actions_are_named_subject_dot_verb(database: Database) -> None:
    owner, business = await new_owner_and_business(database)
    async with unit_of_work(database.sessionmaker) as session:
        for bad in ("approved", "Plan.Approved", "plan approved", "plan."):
            with pytest.raises(ValueError, match="is not like"):
                await AuditLog(session).record(business.id, owner.id, bad, subject=("plan", None))


async def test_the_database_refuses_to_rewrite_an_event(database: Database) -> None:
    _owner, business = await new_owner_and_business(database)
    changes: list[dict[str, object]] = [{"action": "plan.rejected"}, {"detail": {}}, {"business_id": business.id}]
    for change in changes:
        with pytest.raises(DBAPIError, match="append-only"):
            async with unit_of_work(database.sessionmaker) as session:
                await session.execute(update(AuditEvent).where(AuditEvent.business_id == business.id).values(change))
    assert await actions_of(database, business) == ["business.created"]


async def test_a_deleted_account_leaves_its_events_without_an_actor(database: Database) -> None:
    owner, business = await new_owner_and_business(database)
    async with unit_of_work(database.sessionmaker) as session:
        await AuditLog(session).record(business.id, owner.id, "plan.proposed", subject=("plan", "p-2"))
        await session.execute(delete(User).where(User.id == owner.id))
    async with unit_of_work(database.sessionmaker) as session:
        events = (await session.execute(select(AuditEvent).where(AuditEvent.business_id == business.id))).scalars()
        assert sorted((event.action, event.actor_user_id) for event in events) == [
            ("business.created", None),
            ("plan.proposed", None),
        ]
