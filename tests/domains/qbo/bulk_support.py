"""Helpers for tests of syncs across businesses (the bulk service, ``oodaloo sync``): a database of their own (so
"every connected business" means only theirs), the app served beside a sandbox, and businesses connected through
the real OAuth flow, each to a realm of its own; the bulk service built with the worker's runtime."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.qbo.mirror_models import MIRRORED, SyncRun
from oodaloo.domains.qbo.service import QBOBulkScheduledService
from oodaloo.domains.qbo.sync import MirrorSync
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import Settings
from oodaloo.wiring import worker_runtime
from tests.conftest import new_database_url
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.support.qbo import (
    DEFAULT_REDIRECT_URI,
    Browser,
    Browsers,
    SandboxCompany,
    Served,
    connect,
    new_business,
    served_beside_a_sandbox,
)

T = TypeVar("T")


@dataclass
class Fleet:
    """Businesses of one owner, each connected to its own sandbox realm, in a database of their own."""

    served: Served
    owner: Browser
    browsers: Browsers
    realms: dict[uuid.UUID, Realm]

    @property
    def settings(self) -> Settings:
        return self.served.settings

    def add_business(self, *, connected: bool = True, timezone: str = "America/New_York") -> uuid.UUID:
        business_id = uuid.UUID(new_business(self.owner, timezone))
        if connected:
            realm = SandboxCompany.create(self.served.sandbox)
            connect(self.owner, str(business_id), DEFAULT_REDIRECT_URI, realm.realm_id)
            self.realms[business_id] = Realm(self.served.sandbox, realm.realm_id)
        return business_id

    def revoke_tokens(self, business_id: uuid.UUID) -> None:
        """QBO revokes the realm's tokens (the user disconnected the app on Intuit's side): its next sync fails."""
        realm_id = self.realms[business_id].realm_id
        httpx.post(f"{self.served.sandbox}/_sandbox/tokens/revoke", json={"realm_id": realm_id}).raise_for_status()

    def harness(self, business_id: uuid.UUID) -> Harness:
        """The mirror tests' view of one business (to compare its mirror with its realm)."""
        realm = self.realms[business_id]
        return Harness(self.settings.database_url, realm, business_id, tuple(MIRRORED))

    def runs(self, business_id: uuid.UUID) -> list[SyncRun]:
        async def go() -> list[SyncRun]:
            database = Database(self.settings.database_url)
            statement = select(SyncRun).where(SyncRun.business_id == business_id).order_by(SyncRun.started_at)
            try:
                async with unit_of_work(database.sessionmaker) as session:
                    return list((await session.scalars(statement)).all())
            finally:
                await database.dispose()

        return asyncio.run(go())

    def with_bulk(self, action: Callable[[QBOBulkScheduledService], Awaitable[T]], **options: Any) -> T:
        """Run ``action`` with the bulk service built as ``oodaloo sync`` builds it (the worker's runtime)."""
        return self.with_mirror(
            lambda mirror, sessionmaker: action(
                QBOBulkScheduledService(mirror=mirror, sessionmaker=sessionmaker, **options)
            )
        )

    def with_mirror(
        self, action: Callable[[MirrorSync, async_sessionmaker[AsyncSession]], Awaitable[T]], **options: Any
    ) -> T:
        """Run ``action`` with a MirrorSync (``options`` passed to it) on the worker's runtime."""

        async def go() -> T:
            runtime = await worker_runtime(self.settings)
            try:
                assert runtime.database is not None
                sessionmaker = runtime.database.sessionmaker
                mirror = MirrorSync(
                    sync=runtime.sync, connections=runtime.connections, sessionmaker=sessionmaker, **options
                )
                return await action(mirror, sessionmaker)
            finally:
                await runtime.aclose()

        return asyncio.run(go())


@contextlib.contextmanager
def fleet(settings: Settings, tmp_path: Path, name: str) -> Iterator[Fleet]:
    """The app on a new, migrated database, served beside a sandbox, with one signed-up owner."""
    database_url = new_database_url(tmp_path, name)
    upgrade_to_head(database_url)
    # Jobs run in the app's own process (no Redis queue waiting for a worker): "sync now" is a queued job. The Redis
    # queue with worker processes is proven in tests/acceptance/test_sync_under_kills.py.
    with served_beside_a_sandbox(settings.model_copy(update={"database_url": database_url}), redis_url=None) as (
        served,
        _app,
    ):
        browsers = Browsers(served)
        try:
            yield Fleet(served, browsers.sign_up("bulk"), browsers, {})
        finally:
            browsers.close()
