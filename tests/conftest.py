"""Shared test fixtures: a migrated database per xdist worker, app settings, and a served app.

Backends: SQLite in a temporary folder by default; PostgreSQL when ``OODALOO_TEST_DATABASE_URL`` is set
(each worker gets ``oodaloo_test_<worker>``, dropped and re-created), and Redis when
``OODALOO_TEST_REDIS_URL`` is set. Databases are migrated with Alembic, never ``create_all``.

Isolation: tests share their worker's database and never clean it; each test makes its own users and
businesses through factories with unique emails, so no test can see another's rows.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from oodaloo.infra.auth.passwords import use_hasher
from oodaloo.main import create_app
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import Settings
from tests.support.credentials import TEST_PASSWORD, TEST_SECRET_KEY, session_cookie_of  # also imported from here
from tests.support.servers import serve

# Fixtures that live with their support code (the throwaway Redis of the process tests).
pytest_plugins = ["tests.support.redis_server"]

TEST_DATABASE_URL = os.environ.get("OODALOO_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")


async def _recreate_postgres_database(server_url: str, name: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


def new_database_url(tmp_dir: Path, name: str) -> str:
    """An empty database: a SQLite file in ``tmp_dir``, or a freshly created PostgreSQL database (its name prefixed
    with ``OODALOO_TEST_DATABASE_PREFIX`` when set, so two runs on one server keep apart)."""
    name = os.environ.get("OODALOO_TEST_DATABASE_PREFIX", "") + name
    if TEST_DATABASE_URL is None:
        return f"sqlite+aiosqlite:///{tmp_dir / name}.db"
    asyncio.run(_recreate_postgres_database(TEST_DATABASE_URL, name))
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """Argon2 at production cost takes ~100 ms per hash; tests sign up and in a lot, so they use minimal cost."""
    use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    url = new_database_url(tmp_path_factory.mktemp("db"), f"oodaloo_test_{worker_id}")
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        secret_key=TEST_SECRET_KEY,
        auto_migrate=False,
        embedded_sandbox=False,
        demo_autologin=False,
        sandbox_state_file=str(tmp_path_factory.mktemp("sandbox") / "state.json"),
        log_level="WARNING",
        # Tests count QBO calls: no background sync of every connected business unless a test turns it on.
        mirror_sweep=False,
    )


@pytest.fixture
def embedded_settings(settings: Settings, tmp_path: Path, worker_id: str, request: pytest.FixtureRequest) -> Settings:
    """The embedded default as ``make run`` starts it, on a fresh database: sandbox mounted, demo user signed in."""
    return settings.model_copy(
        update={
            "environment": "development",
            "database_url": new_database_url(
                tmp_path, f"oodaloo_test_{worker_id}_" + re.sub(r"\W", "_", request.node.name)[:24]
            ),
            "auto_migrate": True,
            "embedded_sandbox": True,
            "demo_autologin": True,
            "sandbox_state_file": str(tmp_path / "sandbox-state.json"),
        }
    )


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[str]:
    """Base URL of one app served for the whole session (no sandbox mounted, for speed)."""
    with serve(create_app(settings)) as base_url:
        yield base_url


@dataclass
class Account:
    """A signed-up user and an HTTP client carrying their session cookie."""

    user_id: str
    email: str
    password: str
    session_token: str
    client: httpx.Client

    def bearer(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.client.base_url, headers={"Authorization": f"Bearer {token}"})


def unique_email(label: str = "user") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def make_account(api: str) -> Iterator[Callable[..., Account]]:
    clients: list[httpx.Client] = []

    def make(label: str = "user") -> Account:
        email = unique_email(label)
        response = httpx.post(f"{api}/api/auth/signup", json={"email": email, "password": TEST_PASSWORD})
        assert response.status_code == 201, response.text
        token = session_cookie_of(response)
        client = httpx.Client(base_url=api, headers={"Cookie": f"oodaloo_session={token}"})
        clients.append(client)
        return Account(response.json()["id"], email, TEST_PASSWORD, token, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def anonymous(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api) as client:
        yield client
