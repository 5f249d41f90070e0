"""An action's ``on_settle`` hook (how a domain records a write's answer locally, e.g. in its mirror of QBO): it runs
in the transaction that records the success, and a hook that fails is undone alone while the action still settles."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.infra.db.engine import Database
from oodaloo.infra.jobs.actions import ActionContext, ActionResult
from oodaloo.infra.jobs.models import ActionStatus, Activity
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from tests.infra.jobs.test_actions import (
    BillHandler,
    Harness,
    Tenant,
    bill_refs,
    database,
    key,
    make_harness,
    qbo,
    sandbox,
    sync,
    tenant,
)
from tests.sandbox.conftest import RunningSandbox
from tests.support.credentials import MintedCredentials

__all__ = ["bill_refs", "database", "qbo", "sandbox", "sync", "tenant"]  # fixtures shared with test_actions

pytestmark = pytest.mark.timeout(60)
HOOK_KIND = "test.on_settle"

Hook = Callable[[AsyncSession, ActionResult], Awaitable[None]]


@dataclass
class HookedHandler(BillHandler):
    """The test's Bill handler, its result carrying ``hook`` as what the write changed locally."""

    hook: Hook | None = None

    async def perform(self, ctx: ActionContext) -> ActionResult:
        done = await super().perform(ctx)
        hook = self.hook
        if hook is None:
            return done

        async def on_settle(session: AsyncSession) -> None:
            await hook(session, done)

        return replace(done, on_settle=on_settle)


def hooked(
    sync: SmartSyncService,
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    refs: dict[str, str],
    hook: Hook,
) -> Harness:
    """A harness whose kind's handler carries ``hook``."""
    harness = make_harness(sync, sandbox, database, tenant, refs)
    kind = f"test.hooked.{uuid.uuid4().hex[:8]}"
    credentials = MintedCredentials(sandbox.base_url, sandbox.realm_id)

    async def factory(business_id: uuid.UUID, realm_id: str) -> HookedHandler:
        return HookedHandler(sync, credentials, realm_id, hook=hook)

    harness.log.register_action(kind, factory)
    return replace(harness, kind=kind)


async def hook_activities(harness: Harness) -> list[str | None]:
    async with harness.database.sessionmaker() as session:
        statement = select(Activity.subject).where(
            Activity.business_id == harness.tenant.business_id, Activity.kind == HOOK_KIND
        )
        return list((await session.execute(statement)).scalars())


async def test_the_hook_is_committed_with_the_success(
    sync: SmartSyncService,
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    bill_refs: dict[str, str],
) -> None:
    async def record(session: AsyncSession, done: ActionResult) -> None:
        await Activity.record(
            session, business_id=tenant.business_id, user_id=None, kind=HOOK_KIND, subject=done.qbo_id
        )

    harness = hooked(sync, sandbox, database, tenant, bill_refs, record)
    outcome = await harness.execute(key())

    assert outcome.status is ActionStatus.SUCCEEDED
    assert await hook_activities(harness) == [outcome.qbo_id]


async def test_a_failing_hook_is_undone_alone_and_the_action_still_settles(
    sync: SmartSyncService,
    sandbox: RunningSandbox,
    database: Database,
    tenant: Tenant,
    bill_refs: dict[str, str],
) -> None:
    async def record_then_fail(session: AsyncSession, done: ActionResult) -> None:
        await Activity.record(
            session, business_id=tenant.business_id, user_id=None, kind=HOOK_KIND, subject=done.qbo_id
        )
        raise RuntimeError("the local copy could not be written")

    harness = hooked(sync, sandbox, database, tenant, bill_refs, record_then_fail)
    outcome = await harness.execute(key())

    assert outcome.status is ActionStatus.SUCCEEDED
    row = await harness.row(outcome.action_id)
    assert (row.status, row.qbo_id) == (ActionStatus.SUCCEEDED, outcome.qbo_id)
    assert await hook_activities(harness) == []  # the hook's own write was rolled back with it
    assert [bill["Id"] for bill in harness.bills_marked(outcome.action_id)] == [outcome.qbo_id]
    async with database.sessionmaker() as session:
        statement = select(Activity.kind).where(Activity.business_id == tenant.business_id)
        assert harness.kind in list((await session.execute(statement)).scalars())  # the settle's own activity stayed
