"""What every kind of action shares on its way through SmartSync's action log: the business's realm, the repeat of an
idempotency key (answered with the first outcome and the impact it was given), the runway impact estimated before the
action runs and kept with it, and the API errors for a key missing, reused, or an action that failed.

A boundary (``BillService`` and the other actions' services build on it): each database access is its own short unit
of work, none held across a call to QBO.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.ap.errors import (
    IDEMPOTENCY_KEY_HEADER,
    NOT_CONNECTED_CODE,
    RECONNECT_REQUIRED_CODE,
    QuickBooksNotConnected,
    QuickBooksReconnectNeeded,
    not_connected_error,
)
from oodaloo.domains.core.actions import ActionLogRepository
from oodaloo.domains.core.impact import ActionImpactOut, CashEffect, ImpactEstimator, remember_impact
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.client import QBOClient
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.infra.jobs.smart_sync import (
    ActionOutcome,
    IdempotencyConflict,
    Priority,
    SmartSyncService,
)
from oodaloo.infra.web.errors import AppError, Conflict, InvalidInput, PreconditionRequired

# How long a user waits on QuickBooks for an action unless configured (as for paying a bill).
USER_ACTION_DEADLINE = 8.0
CONFIRMING_MESSAGE = "Sent to QuickBooks; the outcome is being confirmed."
# Failures that say the world is not as the request assumed (409), not that the request is malformed (422).
CONFLICT_CODES = frozenset({"reminder_cooling_down", "invoice_paid", "bill_not_open", "mirror_not_synced"})


class IdempotencyKeyRequired(PreconditionRequired):
    """No key: ``what`` is the action as the route names it ("payment"), ``doing`` what it must never do twice."""

    code = "idempotency_key_required"

    def __init__(self, what: str = "action", doing: str = "act") -> None:
        super().__init__(
            f"Send an {IDEMPOTENCY_KEY_HEADER} header (a new random value for each {what}, the same one when retrying "
            f"it), so that a repeated request can never {doing} twice.",
            field=IDEMPOTENCY_KEY_HEADER,
        )


class IdempotencyKeyReused(Conflict):
    code = "idempotency_conflict"

    def __init__(self, what: str = "action") -> None:
        super().__init__(
            f"This {IDEMPOTENCY_KEY_HEADER} was already used for a different {what}; use a new key for a new {what}.",
            field=IDEMPOTENCY_KEY_HEADER,
        )


class ActionFailed(InvalidInput):
    """The recorded action ended ``failed``; ``code`` is the action's own (``qbo_validation``, ...)."""

    def __init__(self, message: str, *, code: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.code = code


class ActionConflict(Conflict):
    def __init__(self, message: str, *, code: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.code = code


@dataclass(frozen=True)
class Actor:
    """Who acts, for which business (its time zone decides "today")."""

    business_id: uuid.UUID
    timezone: str
    user_id: uuid.UUID | None


@dataclass(frozen=True)
class ActionAnswer:
    """An action's outcome as the API answers it: succeeded (200) or being confirmed (202); failures are raised."""

    outcome: ActionOutcome
    impact: ActionImpactOut | None

    @property
    def succeeded(self) -> bool:
        return self.outcome.status is ActionStatus.SUCCEEDED

    @property
    def status(self) -> str:
        return "succeeded" if self.succeeded else "pending_verification"

    @property
    def http_status(self) -> int:
        return 200 if self.succeeded else 202

    @property
    def result(self) -> dict[str, Any]:
        return self.outcome.result or {}


class ActionRunner:
    def __init__(
        self,
        *,
        sync: SmartSyncService,
        connections: ConnectionService,
        sessionmaker: async_sessionmaker[AsyncSession],
        deadline_seconds: float = USER_ACTION_DEADLINE,
        impacts: ImpactEstimator | None = None,
    ) -> None:
        self.sync = sync
        self.connections = connections
        self.sessionmaker = sessionmaker
        self.deadline_seconds = deadline_seconds
        self.impacts = impacts

    async def realm_of(self, business_id: uuid.UUID) -> str:
        state = await self.connections.status(business_id)
        if state.status != "connected" or state.realm_id is None:
            raise not_connected_error(state)
        return state.realm_id

    def client(self, business_id: uuid.UUID, realm_id: str) -> QBOClient:
        return QBOClient(
            self.sync,
            self.connections.credentials(business_id),
            realm_id,
            priority=Priority.USER,
            deadline=time.monotonic() + self.deadline_seconds,
        )

    async def earlier(self, business_id: uuid.UUID, key: str) -> QBOAction | None:
        """The action recorded under ``key`` (detached), if any."""
        async with unit_of_work(self.sessionmaker) as session:
            row = await ActionLogRepository(session, business_id).by_key(key)
            if row is not None:
                session.expunge(row)
            return row

    async def estimate(self, business_id: uuid.UUID, effects: Sequence[CashEffect]) -> ActionImpactOut | None:
        return None if self.impacts is None else await self.impacts.estimate(business_id, effects)

    async def run(
        self,
        actor: Actor,
        realm_id: str,
        *,
        kind: str,
        key: str,
        payload: dict[str, Any],
        effects: Sequence[CashEffect] | None,
        deadline_seconds: float | None = None,
    ) -> ActionAnswer:
        """Record and run the action once (a repeat of ``key`` answers the first outcome); its impact is estimated
        first (``effects`` None: none asked) and kept with it. A failed action is raised as its API error."""
        impact = None if effects is None else await self.estimate(actor.business_id, effects)
        outcome = await self.execute(actor, realm_id, kind=kind, key=key, payload=payload, deadline=deadline_seconds)
        kept = await self.keep(actor.business_id, outcome, impact)
        return answer(outcome, kept)

    async def replay(self, actor: Actor, earlier: QBOAction, key: str) -> ActionAnswer:
        """The same request again: the action log answers with the first outcome (waiting for it if still running)."""
        outcome = await self.execute(actor, earlier.realm_id, kind=earlier.kind, key=key, payload=earlier.payload)
        return answer(outcome, await self.keep(actor.business_id, outcome, None))

    async def execute(
        self,
        actor: Actor,
        realm_id: str,
        *,
        kind: str,
        key: str,
        payload: dict[str, Any],
        deadline: float | None = None,
        what: str = "action",
    ) -> ActionOutcome:
        """Send the action through the action log; a key already used for another payload is refused naming
        ``what`` the route acts on ("a different payment")."""
        try:
            return await self.sync.execute_action(
                business_id=actor.business_id,
                realm_id=realm_id,
                kind=kind,
                idempotency_key=key,
                payload=payload,
                user_id=actor.user_id,
                deadline_seconds=self.deadline_seconds if deadline is None else deadline,
            )
        except IdempotencyConflict as conflict:
            raise IdempotencyKeyReused(what) from conflict

    async def keep(
        self, business_id: uuid.UUID, outcome: ActionOutcome, impact: ActionImpactOut | None
    ) -> ActionImpactOut | None:
        """The impact kept with the action: this one for a first request, the first request's for a repeat."""
        async with unit_of_work(self.sessionmaker) as session:
            return await remember_impact(session, business_id, outcome.action_id, None if outcome.repeated else impact)


def answer(outcome: ActionOutcome, impact: ActionImpactOut | None) -> ActionAnswer:
    if outcome.status is ActionStatus.FAILED:
        raise failed_action_error(outcome)
    return ActionAnswer(outcome, impact)


def failed_action_error(outcome: ActionOutcome) -> AppError:
    """The API error for an action that ended ``failed``, by its stored code."""
    code = outcome.error_code or "action_failed"
    message = outcome.error_message or "QuickBooks did not accept the action."
    field = (outcome.result or {}).get("field")
    named = field if isinstance(field, str) else None
    if code == NOT_CONNECTED_CODE:
        return QuickBooksNotConnected(message)
    if code == RECONNECT_REQUIRED_CODE:
        return QuickBooksReconnectNeeded(message)
    if code in CONFLICT_CODES:
        return ActionConflict(message, code=code, field=named)
    return ActionFailed(message, code=code, field=named)
