"""Database building blocks on the configured backend: aware UTC timestamps, tenant scoping, foreign keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business, Membership, Role, User
from oodaloo.domains.core.repository import MembershipRepository
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


async def _user(session: AsyncSession) -> User:
    user = User(email=f"db-{uuid.uuid4().hex[:10]}@example.com", password_hash="x", display_name="DB test")
    session.add(user)
    await session.flush()
    return user


async def _business(session: AsyncSession, owner: User, name: str) -> Business:
    business = Business(name=name, timezone="UTC", currency="USD")
    session.add(business)
    await session.flush()
    await MembershipRepository(session, business.id).add(Membership(user_id=owner.id, role=Role.OWNER))
    return business


async def test_timestamps_come_back_aware_and_in_utc(database: Database) -> None:
    pacific = timezone(timedelta(hours=-8))
    created = datetime(2026, 3, 4, 10, 15, 2, tzinfo=pacific)
    async with unit_of_work(database.sessionmaker) as session:
        business = Business(name="Clock Co", timezone="America/Los_Angeles", currency="USD", created_at=created)
        session.add(business)
    async with database.session() as session:
        loaded = await session.get(Business, business.id)

    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.created_at == created
    assert loaded.created_at == datetime(2026, 3, 4, 18, 15, 2, tzinfo=UTC)


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with unit_of_work(database.sessionmaker) as session:
            session.add(Business(name="Naive", timezone="UTC", currency="USD", created_at=datetime(2026, 1, 1)))


async def test_tenant_repository_sees_only_its_business(database: Database) -> None:
    async with unit_of_work(database.sessionmaker) as session:
        alice, bob = await _user(session), await _user(session)
        north, south = await _business(session, alice, "North"), await _business(session, bob, "South")
        north_members = MembershipRepository(session, north.id)

        assert [m.user_id for m in await north_members.all(north_members.select())] == [alice.id]
        assert await north_members.of_user(bob.id) is None
        south_membership = await MembershipRepository(session, south.id).of_user(bob.id)
        assert south_membership is not None
        assert await north_members.get(south_membership.id) is None
        with pytest.raises(ValueError, match="another business"):
            await north_members.add(Membership(business_id=south.id, user_id=alice.id, role=Role.VIEWER))
        with pytest.raises(ValueError, match="another business"):
            await north_members.delete(south_membership)


async def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with unit_of_work(database.sessionmaker) as session:
            session.add(Membership(business_id=uuid.uuid4(), user_id=uuid.uuid4(), role=Role.OWNER))


async def test_unit_of_work_rolls_back_on_error(database: Database) -> None:
    name = f"Rolled back {uuid.uuid4().hex[:8]}"

    async def write_then_fail() -> None:
        async with unit_of_work(database.sessionmaker) as session:
            session.add(Business(name=name, timezone="UTC", currency="USD"))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with database.session() as session:
        found = await session.execute(Business.__table__.select().where(Business.name == name))
        assert found.first() is None
