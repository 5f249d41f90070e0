"""Core services against the database: password rehash on sign-in, the demo account, sessions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from oodaloo.domains.core.demo import DEMO_EMAIL, demo_business_name, ensure_demo
from oodaloo.domains.core.errors import InvalidCredentials, WeakPassword
from oodaloo.domains.core.models import Role
from oodaloo.domains.core.service import AccountService, BusinessService
from oodaloo.infra.auth import passwords
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.migrations import upgrade_to_head
from tests.conftest import TEST_PASSWORD, new_database_url, unique_email


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


async def test_sign_in_rehashes_a_password_hashed_with_old_parameters(database: Database) -> None:
    email = unique_email()
    old_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(TEST_PASSWORD)
    async with unit_of_work(database.sessionmaker) as session:
        user = await AccountService(session).sign_up(email, TEST_PASSWORD, None)
        user.password_hash = old_hash
    assert passwords.needs_rehash(old_hash)

    async with unit_of_work(database.sessionmaker) as session:
        signed_in = await AccountService(session).authenticate(email, TEST_PASSWORD)

    assert signed_in.password_hash != old_hash
    assert not passwords.needs_rehash(signed_in.password_hash)
    assert passwords.verify_password(signed_in.password_hash, TEST_PASSWORD)
    async with unit_of_work(database.sessionmaker) as session:
        with pytest.raises(InvalidCredentials):
            await AccountService(session).authenticate(email, "another password")


@pytest.mark.parametrize("password", ["short", "a" * 12, "x" * 2000])
async def test_weak_passwords_are_refused_with_a_reason(database: Database, password: str) -> None:
    async with unit_of_work(database.sessionmaker) as session:
        with pytest.raises(WeakPassword) as refused:
            await AccountService(session).sign_up(unique_email(), password, None)
    assert refused.value.field == "password"
    assert refused.value.message.startswith("Password")


async def test_expired_or_revoked_sessions_do_not_authenticate(database: Database) -> None:
    async with unit_of_work(database.sessionmaker) as session:
        accounts = AccountService(session)
        user = await accounts.sign_up(unique_email(), TEST_PASSWORD, "Sam")
        started = await accounts.start_session(user)
        assert await accounts.user_for_session(started.token) == user
        assert await accounts.user_for_session(started.token + "x") is None
        await accounts.end_session(started.token)
        assert await accounts.user_for_session(started.token) is None


@pytest.fixture
def own_database_url(tmp_path: Path, worker_id: str) -> str:
    """A database of this test's own: the demo user it links to a company must not be the shared database's demo
    user (the console's tests expect theirs to own exactly one business)."""
    url = new_database_url(tmp_path, f"oodaloo_test_{worker_id}_demo_account")
    upgrade_to_head(url)
    return url


@pytest.fixture
async def own_database(own_database_url: str) -> AsyncIterator[Database]:
    db = Database(own_database_url)
    yield db
    await db.dispose()


async def test_demo_account_is_ensured_once_and_follows_the_scenario(own_database: Database) -> None:
    database = own_database
    realm_id = str(uuid.uuid4().int)[:16]
    for scenario in ("healthy", "healthy", "crisis"):
        async with unit_of_work(database.sessionmaker) as session:
            await ensure_demo(session, scenario=scenario, realm_id=realm_id)

    async with unit_of_work(database.sessionmaker) as session:
        demo = await AccountService(session).users.by_email(DEMO_EMAIL)
        assert demo is not None
        linked = [e for e in await BusinessService(session).list_for(demo) if e.business.qbo_realm_id == realm_id]
    assert len(linked) == 1
    [entry] = linked
    assert entry.role is Role.OWNER
    assert entry.business.name == demo_business_name("crisis")
    assert (entry.business.timezone, entry.business.currency) == ("America/Los_Angeles", "USD")
