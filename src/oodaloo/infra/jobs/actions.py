"""Exactly-once QBO writes: the durable action log (``QBOAction``), its execution, and the reconciler that settles
every outcome QBO left unclear. SmartSyncService is its public face; domain services register an ActionHandler per
kind of action and call ``execute_action``.

Why each write happens once: the row, its ``requestid`` and its ``marker`` are committed before QBO is called; every
(re)send carries the same ``requestid`` (QBO replays the first answer instead of writing again), and the reconciler
first looks the object up by ``marker``. Unknown outcomes are never final: they are re-checked with backoff until
QBO confirms or refuses, or the attempts run out (then ``failed`` with the reason).

Why a crash costs under a minute: the process sending an action holds a lease on its row and renews it while the
send runs. A process that dies stops renewing; once the lease runs out the sweep of any live process takes the action
over (re-sending with the same ``requestid`` is safe). A live process is never taken over, however slow QBO is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.infra.db.base import utcnow
from oodaloo.infra.jobs._action_payload import canonical_payload, payload_digest
from oodaloo.infra.jobs._action_store import ActionRow, ActionStore, AfterSettle
from oodaloo.infra.jobs._activity import ActivityRecorder
from oodaloo.infra.jobs._errors import SmartSyncError
from oodaloo.infra.jobs.models import LEASE_OWNER_MAX_LENGTH, ActionStatus, Activity, QBOAction
from oodaloo.infra.jobs.rate_limit import Priority
from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.actions")

T = TypeVar("T")

MARKER_PREFIX = "oodaloo:"
# The job kind that settles one action (payload: {"action_id": "<uuid>"}); its sweep settles every due action.
RECONCILE_JOB = "actions.reconcile"
DRIFT_ACTIVITY_KIND = "action.drift"
UNCONFIRMED_CODE = "unconfirmed"
UNCONFIRMED_MESSAGE = "The outcome is being confirmed with QuickBooks"
NOT_CONFIRMED_CODE = "not_confirmed"

# A pending/in_flight row untouched this long belongs to a process that died: QBO cuts requests off at 120 s and a
# user action's deadline is shorter still, so a live attempt never looks this old. The backstop for rows without a
# lease (recorded before leases existed); leased rows are taken over when their lease runs out.
STALE_AFTER_SECONDS = 300.0
# The lease of the process sending an action: renewed every third of it while the send runs, so two renewals may be
# lost (a slow database, a paused process) before anyone takes over. With the 15 s sweep, a dead process's action is
# taken over 30-45 s after its last renewal: within a minute of the crash.
LEASE_SECONDS = 30.0
LEASE_RENEWALS_PER_LEASE = 3
# After an unclear outcome the first check comes quickly (the user may be waiting on the answer), later ones back off
# exponentially: 5 s, 10 s, ... capped at 15 min; after MAX_ATTEMPTS sends in all (~40 min) the action fails.
FIRST_CHECK_DELAY_SECONDS = 1.5
CHECK_BACKOFF_BASE_SECONDS = 5.0
CHECK_BACKOFF_CAP_SECONDS = 900.0
MAX_ATTEMPTS = 10
# The post-success drift check: a minute later, QBO should still show what we did. If QBO cannot be asked, retry
# every 5 minutes, for a day at most.
DRIFT_CHECK_DELAY_SECONDS = 60.0
DRIFT_RETRY_SECONDS = 300.0
DRIFT_GIVE_UP_SECONDS = 86400.0
# A repeat of a key whose first request is still running waits this long for it (unless given a deadline).
DUPLICATE_WAIT_SECONDS = 30.0
DUPLICATE_FIRST_POLL_SECONDS = 0.02
DUPLICATE_MAX_POLL_SECONDS = 0.5
# A reconciliation is background work: it gets a background slot and this long per attempt.
RECONCILE_DEADLINE_SECONDS = 60.0
# A handler that ignores its deadline is cut off this long after it (the outcome then counts as unknown).
DEADLINE_GRACE_SECONDS = 5.0
SWEEP_BATCH_SIZE = 50
SWEEP_CONCURRENCY = 4


# ---------------------------------------------------------------------------------------------------- public types
@dataclass(frozen=True)
class ActionContext:
    action_id: UUID
    business_id: UUID
    realm_id: str
    kind: str
    requestid: str  # 32 hex chars, derived from the action id: the same on every attempt and after a crash
    marker: str  # "oodaloo:<action id hex>": the handler writes it into the QBO object (e.g. PrivateNote)
    payload: dict[str, Any]  # canonical: Decimals arrive as strings
    attempt: int
    priority: Priority
    deadline: float | None  # a time.monotonic() value


@dataclass(frozen=True)
class ActionResult:
    qbo_entity: str
    qbo_id: str
    result: dict[str, Any]
    # What else the write changed locally (the domain's mirror of QBO), run in the transaction that records the
    # success, so the two are committed together. Its failure never undoes the settle (see ``_apply_on_settle``).
    on_settle: AfterSettle | None = field(default=None, compare=False, repr=False)


class ActionRejected(Exception):
    """A definite refusal (e.g. a QBO validation fault): not retried; the action fails with this reason."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class ActionHandler(Protocol):
    async def perform(self, ctx: ActionContext) -> ActionResult:
        """Send the write with ``ctx.requestid`` and ``ctx.marker``. ActionRejected: definite failure; any other
        exception: the outcome is unknown."""
        ...

    async def find(self, ctx: ActionContext) -> ActionResult | None:
        """Read back the object carrying ``ctx.marker`` (no writes)."""
        ...

    async def check(self, ctx: ActionContext, done: ActionResult) -> dict[str, Any] | None:
        """After success: None if QBO still shows what we did, else a description of the drift."""
        ...


ActionHandlerFactory = Callable[[UUID, str], Awaitable[ActionHandler]]  # (business_id, realm_id) -> handler


@dataclass(frozen=True)
class ActionOutcome:
    action_id: UUID
    status: ActionStatus
    qbo_entity: str | None
    qbo_id: str | None
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    repeated: bool  # this call repeated an earlier idempotency key

    @classmethod
    def of(cls, row: ActionRow, *, repeated: bool = False) -> ActionOutcome:
        return cls(
            action_id=row.id,
            status=row.status,
            qbo_entity=row.qbo_entity,
            qbo_id=row.qbo_id,
            result=row.result,
            error_code=row.error_code,
            error_message=row.error_message,
            repeated=repeated,
        )


class IdempotencyConflict(SmartSyncError):
    """The idempotency key was already used with a different request (the API answers 409)."""

    def __init__(self, idempotency_key: str, action_id: UUID) -> None:
        super().__init__(f"idempotency key {idempotency_key!r} was already used for a different request")
        self.idempotency_key = idempotency_key
        self.action_id = action_id


class UnknownActionKind(LookupError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"no handler is registered for action kind {kind!r}")
        self.kind = kind


@dataclass(frozen=True)
class ReconcilePolicy:
    """The action log's timings and limits; the defaults are the module constants (tests shorten them)."""

    stale_after_seconds: float = STALE_AFTER_SECONDS
    lease_seconds: float = LEASE_SECONDS
    first_check_delay_seconds: float = FIRST_CHECK_DELAY_SECONDS
    check_backoff_base_seconds: float = CHECK_BACKOFF_BASE_SECONDS
    check_backoff_cap_seconds: float = CHECK_BACKOFF_CAP_SECONDS
    max_attempts: int = MAX_ATTEMPTS
    drift_check_delay_seconds: float = DRIFT_CHECK_DELAY_SECONDS
    drift_retry_seconds: float = DRIFT_RETRY_SECONDS
    drift_give_up_seconds: float = DRIFT_GIVE_UP_SECONDS
    duplicate_wait_seconds: float = DUPLICATE_WAIT_SECONDS
    reconcile_deadline_seconds: float = RECONCILE_DEADLINE_SECONDS
    sweep_batch_size: int = SWEEP_BATCH_SIZE

    @property
    def lease_renew_seconds(self) -> float:
        return self.lease_seconds / LEASE_RENEWALS_PER_LEASE

    def check_delay(self, attempts: int) -> float:
        """Seconds until the next check of an action whose ``attempts``-th send had an unknown outcome."""
        if attempts <= 1:
            return self.first_check_delay_seconds
        return min(self.check_backoff_base_seconds * 2.0 ** (attempts - 2), self.check_backoff_cap_seconds)


class Scheduler(Protocol):
    """Where reconciliation prompts go: the app's JobQueue (``queue.py``)."""

    def schedule(self, session: AsyncSession, kind: str, payload: dict[str, Any], *, delay_seconds: float) -> None:
        """Enqueue a ``kind`` job once ``session`` commits; a rollback drops it."""
        ...


# -------------------------------------------------------------------------------------------------------- the log
class ActionLog:
    """Records, executes and reconciles actions. Every method opens its own short transactions (it is a boundary)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        activity: ActivityRecorder,
        policy: ReconcilePolicy | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self._store = ActionStore(sessionmaker)
        self._activity = activity
        self._policy = policy or ReconcilePolicy()
        self._scheduler = scheduler
        self._factories: dict[str, ActionHandlerFactory] = {}
        # Names this log's leases: unique per process and per log (tests run several in one process).
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"[-LEASE_OWNER_MAX_LENGTH:]

    def register_action(self, kind: str, factory: ActionHandlerFactory) -> None:
        if kind in self._factories:
            raise ValueError(f"a handler is already registered for action kind {kind!r}")
        self._factories[kind] = factory

    def use_scheduler(self, scheduler: Scheduler | None) -> None:
        """Send prompts to ``scheduler`` from now on; None sends none."""
        self._scheduler = scheduler

    def schedule_reconciliation(self, session: AsyncSession, action_id: UUID, *, delay_seconds: float) -> None:
        """Prompt a reconciliation once ``session`` commits (dropped on rollback). Without a scheduler nothing is sent:
        ``next_check_at`` is the truth, and the sweep settles the action when it is due."""
        if self._scheduler is not None:
            self._scheduler.schedule(session, RECONCILE_JOB, {"action_id": str(action_id)}, delay_seconds=delay_seconds)

    # ------------------------------------------------------------------------------------------------ execute
    async def execute_action(
        self,
        *,
        business_id: UUID,
        realm_id: str,
        kind: str,
        idempotency_key: str,
        payload: dict[str, Any],
        user_id: UUID | None,
        deadline_seconds: float | None = None,
    ) -> ActionOutcome:
        """Run the action once: a repeat of ``idempotency_key`` returns the first outcome (``repeated=True``)."""
        factory = self._factory(kind)
        deadline = None if deadline_seconds is None else time.monotonic() + deadline_seconds
        canonical = canonical_payload(payload)
        digest = payload_digest(kind, canonical)
        action_id = uuid4()
        inserted = await self._store.insert(
            QBOAction(
                id=action_id,
                business_id=business_id,
                realm_id=realm_id,
                kind=kind,
                idempotency_key=idempotency_key,
                payload_digest=digest,
                payload=canonical,
                requestid=action_id.hex,
                marker=MARKER_PREFIX + action_id.hex,
                status=ActionStatus.PENDING,
                attempts=0,
                requested_by=user_id,
                lease_owner=self._owner,
                lease_expires_at=self._lease_until(),
            )
        )
        if not isinstance(inserted, ActionRow):
            existing = await self._store.by_key(business_id, idempotency_key)
            if existing is None:
                raise inserted  # not a repeated key: e.g. the business does not exist
            return await self._repeat(existing, digest, deadline)
        # In flight before QBO is called: a crash from here on leaves a row the sweep will find.
        started = await self._claim_for_send(inserted)
        if started is None:
            return await self._current(action_id)
        row, token = started
        return await self._send(row, token, factory, priority=Priority.USER, deadline=deadline, look_first=False)

    async def _repeat(self, existing: ActionRow, digest: str, deadline: float | None) -> ActionOutcome:
        if existing.payload_digest != digest:
            raise IdempotencyConflict(existing.idempotency_key, existing.id)
        # A concurrent request with the same key is executing it: wait for its outcome rather than answer "pending".
        wait_until = deadline if deadline is not None else time.monotonic() + self._policy.duplicate_wait_seconds
        poll = DUPLICATE_FIRST_POLL_SECONDS
        row = existing
        while row.status in (ActionStatus.PENDING, ActionStatus.IN_FLIGHT):
            remaining = wait_until - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(min(poll, remaining))
            poll = min(poll * 2, DUPLICATE_MAX_POLL_SECONDS)
            row = await self._load(existing.id)
        return ActionOutcome.of(row, repeated=True)

    # ---------------------------------------------------------------------------------------------- reconcile
    async def reconcile_action(self, action_id: UUID) -> ActionOutcome:
        """Settle one action now (whatever its ``next_check_at``); safe to run from several workers at once."""
        outcome, _ = await self._reconcile(action_id)
        return outcome

    async def sweep(self) -> int:
        """Reconcile the actions that are due (a bounded batch of each kind); returns how many were settled."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self._policy.stale_after_seconds)
        action_ids = await self._store.due_ids(now, stale_before=stale_before, limit=self._policy.sweep_batch_size)
        limit = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def settle(action_id: UUID) -> bool:
            async with limit:
                try:
                    _, settled = await self._reconcile(action_id)
                except Exception:
                    # One action's trouble must not stop the sweep; it stays due and is retried next time.
                    logger.exception("actions.reconcile_failed", action_id=str(action_id))
                    return False
                return settled

        results = await asyncio.gather(*(settle(action_id) for action_id in action_ids))
        settled = sum(results)
        if action_ids:
            logger.info("actions.swept", due=len(action_ids), settled=settled)
        return settled

    async def _reconcile(self, action_id: UUID) -> tuple[ActionOutcome, bool]:
        """Returns the outcome and whether this call settled something (a final status or a finished drift check)."""
        row = await self._load(action_id)
        if row.status is ActionStatus.PENDING_VERIFICATION or self._is_abandoned(row):
            factory = self._factories.get(row.kind)
            if factory is None:
                return await self._postpone_unhandled(row), False
            started = await self._claim_for_send(row)
            if started is None:  # another worker has it
                return await self._current(action_id), False
            claimed, token = started
            deadline = time.monotonic() + self._policy.reconcile_deadline_seconds
            outcome = await self._send(
                claimed, token, factory, priority=Priority.BACKGROUND, deadline=deadline, look_first=True
            )
            return outcome, outcome.status.is_final
        if row.status is ActionStatus.SUCCEEDED and row.next_check_at is not None:
            factory = self._factories.get(row.kind)
            if factory is None:
                return await self._postpone_unhandled(row), False
            return await self._check_drift(row, factory)
        return ActionOutcome.of(row), False

    def _is_abandoned(self, row: ActionRow) -> bool:
        """A pending/in-flight row whose lease ran out (its process died), or left untouched past the backstop."""
        if row.status not in (ActionStatus.PENDING, ActionStatus.IN_FLIGHT):
            return False
        now = utcnow()
        lease_ran_out = row.lease_expires_at is not None and row.lease_expires_at <= now
        return lease_ran_out or row.updated_at <= now - timedelta(seconds=self._policy.stale_after_seconds)

    def _lease_until(self) -> datetime:
        return utcnow() + timedelta(seconds=self._policy.lease_seconds)

    @contextlib.asynccontextmanager
    async def _lease_kept(self, row: ActionRow, token: datetime) -> AsyncIterator[None]:
        """Renew this process's lease on ``row`` while the block runs (the send to QBO)."""
        renewing = asyncio.create_task(self._renew_lease(row.id, token), name=f"lease-{row.id}")
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _renew_lease(self, action_id: UUID, token: datetime) -> None:
        while True:
            await asyncio.sleep(self._policy.lease_renew_seconds)
            try:
                until = self._lease_until()
                held = await self._store.renew_lease(action_id, token=token, owner=self._owner, until=until)
            except Exception as error:
                # The next renewal may get through; if none does, the lease runs out and the sweep takes over.
                logger.warning("actions.lease_renewal_failed", action_id=str(action_id), error=_describe(error))
                continue
            if not held:
                # Taken over (or settled): whatever this send learns, the row's new holder decides.
                logger.warning("actions.lease_lost", action_id=str(action_id))
                return

    async def _postpone_unhandled(self, row: ActionRow) -> ActionOutcome:
        # This process cannot run the kind (its handler is registered elsewhere): leave the row for a process that
        # can, without letting every sweep here pick it up again at once.
        logger.error("actions.no_handler", action_id=str(row.id), kind=row.kind)
        later = utcnow() + timedelta(seconds=self._policy.check_backoff_cap_seconds)
        values: dict[str, Any] = {"next_check_at": later}
        if row.status in (ActionStatus.PENDING, ActionStatus.IN_FLIGHT):
            values["lease_expires_at"] = later  # an abandoned row: held off the sweep as long
        await self._store.claim(row.id, status=row.status, token=row.updated_at, values=values)
        return ActionOutcome.of(row)

    # ------------------------------------------------------------------------------------------ one attempt
    async def _claim_for_send(self, row: ActionRow) -> tuple[ActionRow, datetime] | None:
        now = utcnow()
        token = await self._store.claim(
            row.id,
            status=row.status,
            token=row.updated_at,
            values={
                "status": ActionStatus.IN_FLIGHT,
                "attempts": row.attempts + 1,
                "started_at": now,
                "next_check_at": None,
                "lease_owner": self._owner,
                "lease_expires_at": now + timedelta(seconds=self._policy.lease_seconds),
            },
        )
        if token is None:
            return None
        claimed = _replace(row, status=ActionStatus.IN_FLIGHT, attempts=row.attempts + 1, updated_at=token)
        return claimed, token

    async def _send(
        self,
        row: ActionRow,
        token: datetime,
        factory: ActionHandlerFactory,
        *,
        priority: Priority,
        deadline: float | None,
        look_first: bool,
    ) -> ActionOutcome:
        """One attempt at an in-flight action we hold: (look it up by marker, then) perform; record what happened."""
        ctx = _context(row, priority, deadline)
        try:
            async with self._lease_kept(row, token):
                handler = await factory(row.business_id, row.realm_id)
                done = await self._find(handler, ctx) if look_first else None
                if done is None:
                    done = await _bounded(handler.perform(ctx), deadline)
        except ActionRejected as rejection:
            return await self._record_rejected(row, token, rejection)
        except asyncio.CancelledError:
            # The caller went away mid-send: record the unknown outcome so the reconciler takes over promptly.
            await asyncio.shield(self._record_unknown(row, token, "cancelled"))
            raise
        except Exception as error:
            return await self._record_unknown(row, token, _describe(error))
        return await self._record_succeeded(row, token, done)

    async def _find(self, handler: ActionHandler, ctx: ActionContext) -> ActionResult | None:
        try:
            return await _bounded(handler.find(ctx), ctx.deadline)
        except Exception as error:
            # Re-sending with the same requestid is safe even if the object exists, so go on without the lookup.
            logger.warning("actions.find_failed", action_id=str(ctx.action_id), error=_describe(error))
            return None

    async def _record_succeeded(self, row: ActionRow, token: datetime, done: ActionResult) -> ActionOutcome:
        now = utcnow()
        delay = self._policy.drift_check_delay_seconds
        values = {
            "status": ActionStatus.SUCCEEDED,
            "qbo_entity": done.qbo_entity,
            "qbo_id": done.qbo_id,
            "result": done.result,
            "error_code": None,
            "error_message": None,
            "completed_at": now,
            "next_check_at": now + timedelta(seconds=delay),
        }

        async def record_activity(session: AsyncSession) -> None:
            await self._activity.record_user_activity(
                session,
                business_id=row.business_id,
                user_id=row.requested_by,
                kind=row.kind,
                subject=f"{done.qbo_entity} {done.qbo_id}",
                detail={"action_id": str(row.id), "idempotency_key": row.idempotency_key},
            )
            self.schedule_reconciliation(session, row.id, delay_seconds=delay)
            await _apply_on_settle(session, row, done)

        logger.info("actions.succeeded", action_id=str(row.id), kind=row.kind, qbo_id=done.qbo_id)
        return await self._settle(row, token, values, after=record_activity)

    async def _record_rejected(self, row: ActionRow, token: datetime, rejection: ActionRejected) -> ActionOutcome:
        values = {
            "status": ActionStatus.FAILED,
            "error_code": rejection.code,
            # The field travels as its own value (in ``result``), never inside the message.
            "error_message": rejection.message[:2000],
            "result": None if rejection.field is None else {"field": rejection.field},
            "completed_at": utcnow(),
            "next_check_at": None,
        }
        logger.info("actions.rejected", action_id=str(row.id), kind=row.kind, code=rejection.code)
        return await self._settle(row, token, values)

    async def _record_unknown(self, row: ActionRow, token: datetime, reason: str) -> ActionOutcome:
        if row.attempts >= self._policy.max_attempts:
            logger.error("actions.not_confirmed", action_id=str(row.id), kind=row.kind, attempts=row.attempts)
            values: dict[str, Any] = {
                "status": ActionStatus.FAILED,
                "error_code": NOT_CONFIRMED_CODE,
                "error_message": f"could not be confirmed with QuickBooks after {row.attempts} attempts",
                "completed_at": utcnow(),
                "next_check_at": None,
            }
            return await self._settle(row, token, values)
        delay = self._policy.check_delay(row.attempts)
        values = {
            "status": ActionStatus.PENDING_VERIFICATION,
            "error_code": UNCONFIRMED_CODE,
            "error_message": UNCONFIRMED_MESSAGE,
            "next_check_at": utcnow() + timedelta(seconds=delay),
        }

        async def prompt(session: AsyncSession) -> None:
            self.schedule_reconciliation(session, row.id, delay_seconds=delay)

        logger.warning("actions.unconfirmed", action_id=str(row.id), kind=row.kind, attempt=row.attempts, error=reason)
        return await self._settle(row, token, values, after=prompt)

    async def _settle(
        self, row: ActionRow, token: datetime, values: dict[str, Any], *, after: AfterSettle | None = None
    ) -> ActionOutcome:
        released = {**values, "lease_owner": None, "lease_expires_at": None}
        if await self._store.settle(row.id, status=row.status, token=token, values=released, after=after):
            return ActionOutcome.of(_replace(row, **released))
        # Our claim was taken over (our lease ran out, or we looked stale); the row says what really happened.
        logger.warning("actions.claim_lost", action_id=str(row.id))
        return await self._current(row.id)

    # -------------------------------------------------------------------------------------------- drift check
    async def _check_drift(self, row: ActionRow, factory: ActionHandlerFactory) -> tuple[ActionOutcome, bool]:
        now = utcnow()
        # Claimed by pushing next_check_at out, so no one else checks it meanwhile (nor after a crash, until then).
        hold_until = now + timedelta(seconds=self._policy.stale_after_seconds)
        token = await self._store.claim(
            row.id, status=row.status, token=row.updated_at, values={"next_check_at": hold_until}
        )
        if token is None:
            return await self._current(row.id), False
        done = ActionResult(row.qbo_entity or "", row.qbo_id or "", row.result or {})
        ctx = _context(row, Priority.BACKGROUND, time.monotonic() + self._policy.reconcile_deadline_seconds)
        try:
            handler = await factory(row.business_id, row.realm_id)
            drift = await _bounded(handler.check(ctx, done), ctx.deadline)
        except Exception as error:
            return await self._drift_check_failed(row, token, _describe(error)), False
        values: dict[str, Any] = {"drift": drift, "verified_at": utcnow(), "next_check_at": None}

        async def record_drift(session: AsyncSession) -> None:
            if drift is not None:
                await Activity.record(
                    session,
                    business_id=row.business_id,
                    user_id=None,
                    kind=DRIFT_ACTIVITY_KIND,
                    subject=f"{done.qbo_entity} {done.qbo_id}",
                    detail={"action_id": str(row.id), "action_kind": row.kind, "drift": drift},
                )

        if drift is not None:
            logger.warning("actions.drift", action_id=str(row.id), kind=row.kind, qbo_id=done.qbo_id)
        settled = await self._store.settle(row.id, status=row.status, token=token, values=values, after=record_drift)
        return await self._current(row.id), settled

    async def _drift_check_failed(self, row: ActionRow, token: datetime, reason: str) -> ActionOutcome:
        completed = row.completed_at or utcnow()
        gave_up = utcnow() - completed > timedelta(seconds=self._policy.drift_give_up_seconds)
        next_check = None if gave_up else utcnow() + timedelta(seconds=self._policy.drift_retry_seconds)
        logger.warning("actions.drift_check_failed", action_id=str(row.id), error=reason, giving_up=gave_up)
        await self._store.settle(row.id, status=row.status, token=token, values={"next_check_at": next_check})
        return await self._current(row.id)

    # ------------------------------------------------------------------------------------------------ helpers
    def _factory(self, kind: str) -> ActionHandlerFactory:
        factory = self._factories.get(kind)
        if factory is None:
            raise UnknownActionKind(kind)
        return factory

    async def _load(self, action_id: UUID) -> ActionRow:
        row = await self._store.get(action_id)
        if row is None:
            raise LookupError(f"action {action_id} does not exist")
        return row

    async def _current(self, action_id: UUID) -> ActionOutcome:
        return ActionOutcome.of(await self._load(action_id))


def _context(row: ActionRow, priority: Priority, deadline: float | None) -> ActionContext:
    return ActionContext(
        action_id=row.id,
        business_id=row.business_id,
        realm_id=row.realm_id,
        kind=row.kind,
        requestid=row.requestid,
        marker=row.marker,
        payload=row.payload,
        attempt=row.attempts,
        priority=priority,
        deadline=deadline,
    )


async def _apply_on_settle(session: AsyncSession, row: ActionRow, done: ActionResult) -> None:
    """Run ``done.on_settle`` in a savepoint of the settle transaction. QBO has the write whatever a local copy makes
    of it: a hook that fails is rolled back alone and logged, the action still settles, and the next sync brings
    what the hook could not record."""
    if done.on_settle is None:
        return
    try:
        async with session.begin_nested():
            await done.on_settle(session)
    except Exception as error:
        logger.warning("actions.on_settle_failed", action_id=str(row.id), kind=row.kind, error=_describe(error))


def _replace(row: ActionRow, **changes: Any) -> ActionRow:
    """``row`` with the changed columns it carries (others, like ``started_at``, it does not keep)."""
    known = {key: value for key, value in changes.items() if hasattr(row, key)}
    return replace(row, **known)


async def _bounded(call: Coroutine[Any, Any, T], deadline: float | None) -> T:
    """Await ``call``, cut off DEADLINE_GRACE_SECONDS past ``deadline`` should the handler not honour it itself."""
    if deadline is None:
        return await call
    remaining = deadline - time.monotonic() + DEADLINE_GRACE_SECONDS
    async with asyncio.timeout(max(remaining, 0.0)):
        return await call


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__
