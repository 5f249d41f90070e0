"""QBO's webhooks: verify the ``intuit-signature``, read either payload shape, store each event once in the inbox and
ask for a CDC sync of every realm with news — without calling QBO, since Intuit waits only a few seconds for the 200.

Guarantees, and why:
- Nothing is read, stored or requested before the signature matches: the verifier token is the only thing that
  tells Intuit's deliveries from anyone else's, so an unsigned body gets 401 and changes nothing.
- Each event is stored once: Intuit retries a delivery it thinks failed and may send one event more than once, so
  rows are inserted-or-ignored on a dedupe key (the CloudEvent's ``source`` + ``id``; for the legacy format, which has
  no event id, realm + entity + id + operation + ``lastUpdated``). Only realms with a new row get a sync request, so
  a replayed delivery costs nothing.
- The rows are committed before the sync is requested: a sync that started first could miss them, and a request
  lost after the commit is recovered by a sweep over unprocessed rows (``WebhookInbox.realms_with_unprocessed``).
- A burst costs one sync: one request per realm per delivery, and the ``SyncRequester`` merges requests for a realm
  that is still waiting for its sync.
- Events of realms no business has connected are acknowledged (Intuit would otherwise retry them for days), logged
  and dropped: there is nothing to sync them into.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.webhooks_models import QBOWebhookEvent
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.logging import get_logger
from oodaloo.infra.web.errors import AppError

logger = get_logger("oodaloo.qbo.webhooks")

SIGNATURE_HEADER = "intuit-signature"
PayloadFormat = Literal["legacy", "cloudevents"]
# CloudEvents name the operation in ``type`` (``qbo.bill.updated.v1``); the inbox keeps Intuit's legacy names.
CLOUDEVENT_OPERATIONS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}
# CloudEvents spell the entity in lower case; the inbox keeps QBO's spelling for the entities webhooks report.
QBO_ENTITY_NAMES = {
    name.lower(): name
    for name in (
        "Account",
        "Bill",
        "BillPayment",
        "Budget",
        "Class",
        "CompanyInfo",
        "CreditMemo",
        "Currency",
        "Customer",
        "Department",
        "Deposit",
        "Employee",
        "Estimate",
        "Invoice",
        "Item",
        "JournalCode",
        "JournalEntry",
        "Payment",
        "PaymentMethod",
        "Preferences",
        "Purchase",
        "PurchaseOrder",
        "RefundReceipt",
        "SalesReceipt",
        "TaxAgency",
        "Term",
        "TimeActivity",
        "Transfer",
        "Vendor",
        "VendorCredit",
    )
}
# Column widths of the inbox (webhooks_models): longer values are refused as malformed rather than truncated.
MAX_REALM_ID_CHARS = 32
MAX_ENTITY_CHARS = 64
MAX_OPERATION_CHARS = 32
# Only hashed into the dedupe key, so their length bounds work, not storage.
MAX_EVENT_ID_CHARS = 1000
MAX_EVENT_TYPE_CHARS = 200


# ------------------------------------------------------------------------------------------------------- errors
class InvalidWebhookSignature(AppError):
    status_code = 401
    code = "invalid_webhook_signature"
    message = f"The {SIGNATURE_HEADER} header is missing or does not match the body."

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": f'Signature header="{SIGNATURE_HEADER}"'})


class InvalidWebhookPayload(AppError):
    status_code = 400
    code = "invalid_webhook_payload"
    message = "The webhook body is neither QBO's eventNotifications object nor an array of CloudEvents."


# ---------------------------------------------------------------------------------------------------- signature
def expected_signature(verifier_token: str, body: bytes) -> str:
    """Base64 of HMAC-SHA256 over the raw body, keyed by the app's verifier token (Intuit's ``intuit-signature``)."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_matches(verifier_token: str, body: bytes, signature: str | None) -> bool:
    if not signature or not verifier_token:
        return False
    # Constant time: a comparison that stops at the first wrong byte tells an attacker how much they got right.
    return hmac.compare_digest(expected_signature(verifier_token, body).encode(), signature.strip().encode())


# ------------------------------------------------------------------------------------------------------ parsing
@dataclass(frozen=True)
class WebhookEvent:
    """One entity change, whichever format announced it."""

    payload_format: PayloadFormat
    realm_id: str
    entity_name: str
    entity_id: str
    operation: str
    last_updated_at: datetime | None
    dedupe_key: str
    raw: dict[str, Any] = field(compare=False)


def parse_events(body: bytes) -> list[WebhookEvent]:
    """The events of a delivery: an object with ``eventNotifications`` is the legacy format, an array is CloudEvents."""
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidWebhookPayload("The webhook body is not JSON.") from None
    if isinstance(document, list):
        return [_cloud_event(item, f"[{index}]") for index, item in enumerate(document)]
    if isinstance(document, dict) and "eventNotifications" in document:
        return list(_legacy_events(document["eventNotifications"]))
    raise InvalidWebhookPayload()


def _legacy_events(notifications: Any) -> Iterable[WebhookEvent]:
    if not isinstance(notifications, list):
        raise InvalidWebhookPayload("eventNotifications must be an array.", field="eventNotifications")
    for index, notification in enumerate(notifications):
        where = f"eventNotifications.{index}"
        notification = _object(notification, where)
        realm_id = _text(notification, "realmId", where, MAX_REALM_ID_CHARS)
        change = _object(notification.get("dataChangeEvent"), f"{where}.dataChangeEvent")
        entities = change.get("entities")
        if not isinstance(entities, list):
            raise InvalidWebhookPayload(
                f"{where}.dataChangeEvent.entities must be an array.", field=f"{where}.dataChangeEvent.entities"
            )
        for position, entity in enumerate(entities):
            at = f"{where}.dataChangeEvent.entities.{position}"
            yield _legacy_event(realm_id, _object(entity, at), at)


def _legacy_event(realm_id: str, entity: dict[str, Any], where: str) -> WebhookEvent:
    name = _text(entity, "name", where, MAX_ENTITY_CHARS)
    entity_id = _text(entity, "id", where, MAX_ENTITY_CHARS)
    operation = _text(entity, "operation", where, MAX_OPERATION_CHARS)
    last_updated = entity.get("lastUpdated")
    identity = ("legacy", realm_id, name, entity_id, operation, str(last_updated))
    return WebhookEvent(
        "legacy", realm_id, name, entity_id, operation, _timestamp(last_updated), _dedupe_key(identity), entity
    )


def _cloud_event(item: Any, where: str) -> WebhookEvent:
    event = _object(item, where)
    event_id = _text(event, "id", where, MAX_EVENT_ID_CHARS)
    source = event.get("source")
    realm_id = _text(event, "intuitaccountid", where, MAX_REALM_ID_CHARS)
    entity_id = _text(event, "intuitentityid", where, MAX_ENTITY_CHARS)
    # type = qbo.<entity>.<action>.v<version>
    parts = _text(event, "type", where, MAX_EVENT_TYPE_CHARS).split(".")
    if (
        len(parts) != 4
        or parts[0] != "qbo"
        or not 0 < len(parts[1]) <= MAX_ENTITY_CHARS
        or not 0 < len(parts[2]) <= MAX_OPERATION_CHARS
    ):
        raise InvalidWebhookPayload(f"{where}.type must look like qbo.<entity>.<action>.v1.", field=f"{where}.type")
    entity_name = QBO_ENTITY_NAMES.get(parts[1], parts[1])
    operation = CLOUDEVENT_OPERATIONS.get(parts[2], parts[2])
    identity = ("cloudevents", str(source), event_id)
    return WebhookEvent(
        "cloudevents",
        realm_id,
        entity_name,
        entity_id,
        operation,
        _timestamp(event.get("time")),
        _dedupe_key(identity),
        event,
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidWebhookPayload(f"{where} must be an object.", field=where)
    return value


def _text(container: dict[str, Any], key: str, where: str, max_chars: int) -> str:
    value = container.get(key)
    # Intuit sends ids as strings; a number is accepted as its decimal text.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise InvalidWebhookPayload(
            f"{where}.{key} must be a non-empty string of at most {max_chars} characters.", field=f"{where}.{key}"
        )
    return value.strip()


def _timestamp(value: Any) -> datetime | None:
    """QBO's ``2025-03-04T18:15:02.000Z``; None when absent or unreadable (the time only orders events, CDC decides)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _dedupe_key(identity: Sequence[str]) -> str:
    # NUL cannot occur in the parts (the app refuses it in JSON bodies), so the joined text is unambiguous.
    return hashlib.sha256("\x00".join(identity).encode()).hexdigest()


# -------------------------------------------------------------------------------------------- the sync request
class SyncRequester(Protocol):
    """Where the inbox asks for a realm's CDC sync; the job layer decides when and where it runs."""

    async def request_cdc_sync(self, realm_id: str) -> None: ...


class InProcessSyncRequester:
    """Queues CDC sync requests in this process, merging a request for a realm that is already waiting.

    A realm stays *waiting* from its request until a worker ``take``s it: requests in between merge into the one
    queued (a burst of webhooks → one sync). Once taken it may be queued again, since changes made after a sync
    began need a sync of their own. ``queued`` and ``merged`` count both outcomes per realm.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._waiting: set[str] = set()
        self.queued: Counter[str] = Counter()
        self.merged: Counter[str] = Counter()

    async def request_cdc_sync(self, realm_id: str) -> None:
        if realm_id in self._waiting:
            self.merged[realm_id] += 1
            return
        self._waiting.add(realm_id)
        self.queued[realm_id] += 1
        self._queue.put_nowait(realm_id)

    def waiting(self) -> frozenset[str]:
        return frozenset(self._waiting)

    async def take(self) -> str:
        """The next realm to sync, oldest request first; from now on a new request for it is queued again."""
        realm_id = await self._queue.get()
        self._waiting.discard(realm_id)
        return realm_id

    async def serve(self, run_sync: Callable[[str], Awaitable[None]]) -> None:
        """Take requests one at a time and run ``run_sync`` for each, until cancelled; a failure is logged, not fatal
        (the realm's events stay unprocessed in the inbox for the sweep)."""
        while True:
            realm_id = await self.take()
            try:
                await run_sync(realm_id)
            except Exception:
                logger.exception("qbo.webhook_sync_failed", realm_id=realm_id)


# ------------------------------------------------------------------------------------------------------- inbox
@dataclass(frozen=True)
class Receipt:
    """What one delivery did: events in it, new inbox rows, events of unknown realms dropped, realms asked to sync."""

    events: int
    stored: int
    ignored: int
    sync_requested: tuple[str, ...]


class WebhookInbox:
    """Inbox rows through the caller's session: insert-or-ignore, and the queries the sync and the sweep need."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def connected_realms(self, realm_ids: Iterable[str]) -> set[str]:
        statement = select(QBOConnection.realm_id).where(
            QBOConnection.realm_id.in_(set(realm_ids)), QBOConnection.status == ConnectionStatus.CONNECTED
        )
        return set((await self.session.scalars(statement)).all())

    async def add_new(self, events: Sequence[WebhookEvent]) -> list[WebhookEvent]:
        """Store the events whose dedupe key is not stored yet; returns those (concurrent deliveries included)."""
        unique = {event.dedupe_key: event for event in events}  # one delivery may repeat an event
        if not unique:
            return []
        received_at = utcnow()
        rows = [
            {
                "id": uuid.uuid4(),
                "dedupe_key": event.dedupe_key,
                "payload_format": event.payload_format,
                "realm_id": event.realm_id,
                "entity_name": event.entity_name,
                "entity_id": event.entity_id,
                "operation": event.operation,
                "last_updated_at": event.last_updated_at,
                "received_at": received_at,
                "processed_at": None,
                "raw_event": event.raw,
            }
            for event in unique.values()
        ]
        insert = postgresql_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(QBOWebhookEvent)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[QBOWebhookEvent.dedupe_key])
            .returning(QBOWebhookEvent.dedupe_key)
        )
        inserted = set((await self.session.scalars(statement)).all())
        return [event for key, event in unique.items() if key in inserted]

    async def realms_with_unprocessed(self) -> list[str]:
        """Realms with events no sync has covered yet: what a sweep asks to sync when a request was lost."""
        statement = (
            select(QBOWebhookEvent.realm_id)
            .where(QBOWebhookEvent.processed_at.is_(None))
            .group_by(QBOWebhookEvent.realm_id)
            .order_by(func.min(QBOWebhookEvent.received_at))
        )
        return list((await self.session.scalars(statement)).all())

    async def mark_processed(self, realm_id: str, *, received_before: datetime) -> int:
        """Stamp the realm's events received before a sync began (that sync saw them); returns how many."""
        statement = (
            update(QBOWebhookEvent)
            .where(
                QBOWebhookEvent.realm_id == realm_id,
                QBOWebhookEvent.processed_at.is_(None),
                QBOWebhookEvent.received_at < received_before,
            )
            .values(processed_at=utcnow())
        )
        result = cast(CursorResult[Any], await self.session.execute(statement))
        return result.rowcount


class WebhookService:
    """Receives one delivery: verify, parse, store what is new, then request the syncs. No QBO call."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], requester: SyncRequester, *, verifier_token: str
    ) -> None:
        self.sessionmaker = sessionmaker
        self.requester = requester
        self._verifier_token = verifier_token

    async def receive(self, body: bytes, signature: str | None) -> Receipt:
        if not signature_matches(self._verifier_token, body, signature):
            logger.warning("qbo.webhook_signature_refused", signed=bool(signature), body_bytes=len(body))
            raise InvalidWebhookSignature()
        events = parse_events(body)
        async with unit_of_work(self.sessionmaker) as session:
            inbox = WebhookInbox(session)
            known = await inbox.connected_realms(event.realm_id for event in events)
            new = await inbox.add_new([event for event in events if event.realm_id in known])
        ignored = [event for event in events if event.realm_id not in known]
        if ignored:
            logger.info(
                "qbo.webhook_unknown_realms",
                realm_ids=sorted({event.realm_id for event in ignored}),
                events=len(ignored),
            )
        realms = tuple(dict.fromkeys(event.realm_id for event in new))  # in order of first appearance
        for realm_id in realms:
            try:
                await self.requester.request_cdc_sync(realm_id)
            except Exception:
                # The events are stored: answering 200 stops Intuit's retries, which would store nothing new and so
                # request nothing either. The sweep over unprocessed rows asks for this realm's sync instead.
                logger.exception("qbo.webhook_sync_request_failed", realm_id=realm_id)
        logger.info("qbo.webhook_received", events=len(events), stored=len(new), sync_requested=list(realms))
        return Receipt(len(events), len(new), len(ignored), realms)
