"""What the handlers of actions share, whatever they write: a QuickBooks client for each step with the step's priority
and deadline; a transaction an earlier attempt created, found again by the marker in its PrivateNote; the check, later,
that QuickBooks still shows it; and the errors that mean a write was not made, as the action's definite refusal."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from oodaloo.domains.ap.errors import (
    NOT_CONNECTED_CODE,
    QBO_VALIDATION_CODE,
    RECONNECT_REQUIRED_CODE,
    field_of_element,
    qbo_message,
)
from oodaloo.domains.qbo.auth import ConnectionService
from oodaloo.domains.qbo.client import QBOClient
from oodaloo.domains.qbo.errors import (
    QBOAuthError,
    QBODuplicate,
    QBOError,
    QBONotConnected,
    QBONotFound,
    QBOReconnectRequired,
    QBOValidationError,
)
from oodaloo.domains.qbo.mirror_models import VOID_NOTE_PREFIX
from oodaloo.domains.qbo.schemas import Transaction
from oodaloo.infra.jobs.smart_sync import (
    ActionContext,
    ActionHandler,
    ActionHandlerFactory,
    ActionRejected,
    Credentials,
    SmartSyncService,
)
from oodaloo.infra.web.errors import AppError

T = TypeVar("T", bound=Transaction)


class QBOActionHandler:
    """A handler that talks to QuickBooks for one business: each step does so with its context's priority and
    deadline."""

    def __init__(self, sync: SmartSyncService, credentials: Credentials, realm_id: str) -> None:
        self._sync = sync
        self._credentials = credentials
        self._realm_id = realm_id

    def _client(self, ctx: ActionContext) -> QBOClient:
        return QBOClient(self._sync, self._credentials, self._realm_id, priority=ctx.priority, deadline=ctx.deadline)

    async def _create(self, ctx: ActionContext, entity: T, *, what: str, fields: dict[str, str] | None = None) -> T:
        """Create ``entity`` with the action's requestid; an error that means nothing was written is raised as the
        action's refusal (see :func:`rejection`), any other leaves the outcome to the action log."""
        try:
            return await self._client(ctx).create(entity, requestid=ctx.requestid)
        except QBOError as error:
            refused = rejection(error, what=what, fields=fields)
            if refused is None:
                raise
            raise refused from error


def qbo_handler_factory(
    handler: Callable[[SmartSyncService, Credentials, str], ActionHandler],
    sync: SmartSyncService,
    connections: ConnectionService,
) -> ActionHandlerFactory:
    """What SmartSync registers for an action kind: a ``handler`` with the business's QBO credentials."""

    async def factory(business_id: uuid.UUID, realm_id: str) -> ActionHandler:
        return handler(sync, connections.credentials(business_id), realm_id)

    return factory


async def find_marked(client: QBOClient, entity_type: type[T], *, where: str, marker: str) -> T | None:
    """The transaction matching ``where`` that carries ``marker`` in its PrivateNote: what an earlier attempt wrote."""
    async for found in client.query(entity_type, where=where):
        if found.private_note == marker:
            return found
    return None


async def still_written(client: QBOClient, entity_type: type[Transaction], qbo_id: str) -> dict[str, Any] | None:
    """None while QuickBooks still shows the transaction an action wrote; else why not (missing, deleted, voided)."""
    name = f"{entity_type.entity_name} {qbo_id}"
    try:
        found = await client.read(entity_type, qbo_id)
    except QBONotFound:
        return {"reason": "missing", "message": f"{name} is no longer in QuickBooks"}
    if found.is_deleted:
        return {"reason": "deleted", "message": f"{name} was deleted in QuickBooks"}
    if (found.private_note or "").startswith(VOID_NOTE_PREFIX) or found.total_amt == 0:
        return {"reason": "voided", "message": f"{name} was voided in QuickBooks"}
    return None


def rejection(error: QBOError, *, what: str, fields: dict[str, str] | None = None) -> ActionRejected | None:
    """A QBO error that means the write was not made, as the action's definite refusal (None: the outcome is
    unknown and the action log must settle it). ``what`` names the write ("the payment") in the message; ``fields``
    maps QBO's elements to the request's fields, before the payment fields every write shares."""
    if isinstance(error, QBOReconnectRequired):
        # Raised before the write was sent (no connection, or no token could be had): nothing reached QBO.
        code = NOT_CONNECTED_CODE if isinstance(error, QBONotConnected) else RECONNECT_REQUIRED_CODE
        return ActionRejected(code, error.message)
    if isinstance(error, QBOValidationError | QBODuplicate | QBONotFound):
        element = error.element
        field = (fields or {}).get(element or "") or field_of_element(element)
        return ActionRejected(QBO_VALIDATION_CODE, qbo_message(error, what), field)
    if isinstance(error, QBOAuthError):
        # 401/403 come from QBO's gateway before the request is processed: nothing was written.
        return ActionRejected("qbo_auth", qbo_message(error, what))
    return None


def app_error_rejection(error: AppError) -> ActionRejected:
    """A check that failed inside a handler (the books changed since the request was checked), as a refusal."""
    return ActionRejected(error.code, error.message, error.field)
