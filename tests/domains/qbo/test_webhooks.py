"""The webhook inbox: Intuit's signature, both payload shapes, storing each event once, and one sync per burst."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.webhooks import (
    InProcessSyncRequester,
    InvalidWebhookPayload,
    InvalidWebhookSignature,
    WebhookInbox,
    WebhookService,
    expected_signature,
    parse_events,
    signature_matches,
)
from oodaloo.domains.qbo.webhooks_models import QBOWebhookEvent
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work

VERIFIER = "test-verifier-token"
# Intuit's documented legacy example (API_NOTES §11.1), a Merge carrying the merged-away id.
LEGACY = {
    "eventNotifications": [
        {
            "realmId": "9130357012345678",
            "dataChangeEvent": {
                "entities": [
                    {"name": "Bill", "id": "148", "operation": "Update", "lastUpdated": "2025-03-04T18:15:02.000Z"},
                    {
                        "name": "Vendor",
                        "id": "77",
                        "operation": "Merge",
                        "deletedId": "76",
                        "lastUpdated": "2025-03-04T18:15:05.000Z",
                    },
                ]
            },
        }
    ]
}
# Intuit's CloudEvents example (API_NOTES §11.4).
CLOUD_EVENT = {
    "specversion": "1.0",
    "id": "5f0c1a52-8a7e-4f55-9a0b-2f6d3c1e9b11",
    "source": "intuit.ZmFrZS1hcHAtc291cmNl",
    "type": "qbo.billpayment.voided.v1",
    "datacontenttype": "application/json",
    "time": "2025-03-04T18:15:02.418Z",
    "intuitentityid": "148",
    "intuitaccountid": "9130357012345678",
    "data": {},
}


def body_of(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


# -------------------------------------------------------------------------------------------------- signature
@pytest.mark.parametrize(
    ("key", "body", "signature"),
    [
        # Intuit's published vectors (API_NOTES §11.2).
        ("verify_me", b'{"stuff":"5"}', "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="),
        (
            "emu-verifier-123",
            b'{"eventNotifications":[{"realmId":"9130357012345678","dataChangeEvent":{"entities":[{"name":"Bill",'
            b'"id":"148","operation":"Update","lastUpdated":"2025-03-04T10:15:02.000Z"}]}}]}',
            "HRk/8/vAeuW7kv16WtWnFGwEktW0JxDS0Q94E4WgQkI=",
        ),
    ],
)
def test_the_signature_is_intuits_base64_hmac_sha256_of_the_raw_body(key: str, body: bytes, signature: str) -> None:
    assert expected_signature(key, body) == signature
    assert signature_matches(key, body, signature)


def test_a_missing_foreign_or_stale_signature_does_not_match() -> None:
    body = body_of(LEGACY)
    good = expected_signature(VERIFIER, body)
    assert not signature_matches(VERIFIER, body, None)
    assert not signature_matches(VERIFIER, body, "")
    assert not signature_matches(VERIFIER, body, expected_signature("another-token", body))
    assert not signature_matches(VERIFIER, body + b" ", good)  # the body changed after signing
    assert not signature_matches("", body, expected_signature("", body))  # no token configured: nothing verifies


# ---------------------------------------------------------------------------------------------------- parsing
def test_the_legacy_payload_gives_one_event_per_entity() -> None:
    bill, vendor = parse_events(body_of(LEGACY))
    assert (bill.payload_format, bill.realm_id, bill.entity_name, bill.entity_id, bill.operation) == (
        "legacy",
        "9130357012345678",
        "Bill",
        "148",
        "Update",
    )
    assert bill.last_updated_at == datetime(2025, 3, 4, 18, 15, 2, tzinfo=UTC)
    assert (vendor.operation, vendor.raw["deletedId"]) == ("Merge", "76")
    assert bill.dedupe_key != vendor.dedupe_key


def test_cloudevents_are_mapped_onto_qbo_entity_and_operation_names() -> None:
    second = {**CLOUD_EVENT, "id": "another-event", "type": "qbo.vendorcredit.created.v1", "intuitaccountid": "42"}
    voided, created = parse_events(body_of([CLOUD_EVENT, second]))
    assert (voided.payload_format, voided.realm_id, voided.entity_name, voided.entity_id, voided.operation) == (
        "cloudevents",
        "9130357012345678",
        "BillPayment",
        "148",
        "Void",
    )
    assert voided.last_updated_at == datetime(2025, 3, 4, 18, 15, 2, 418000, tzinfo=UTC)
    assert voided.raw == CLOUD_EVENT
    assert (created.realm_id, created.entity_name, created.operation) == ("42", "VendorCredit", "Create")


def test_the_dedupe_key_names_the_event_not_the_delivery() -> None:
    # A redelivery re-serialises the same events: the key must not depend on formatting or neighbours.
    alone = parse_events(json.dumps([CLOUD_EVENT], indent=2).encode())[0]
    with_neighbour = parse_events(body_of([{**CLOUD_EVENT, "id": "other"}, CLOUD_EVENT]))[1]
    assert alone.dedupe_key == with_neighbour.dedupe_key
    legacy_again = parse_events(json.dumps(LEGACY, indent=1).encode())[0]
    assert legacy_again.dedupe_key == parse_events(body_of(LEGACY))[0].dedupe_key
    # A later change of the same bill is a new event.
    later = json.loads(body_of(LEGACY))
    later["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["lastUpdated"] = "2025-03-04T18:16:00.000Z"
    assert parse_events(body_of(later))[0].dedupe_key != legacy_again.dedupe_key


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", None),
        (b'{"something": "else"}', None),
        (body_of({"eventNotifications": {}}), "eventNotifications"),
        (body_of({"eventNotifications": [{"dataChangeEvent": {"entities": []}}]}), "eventNotifications.0.realmId"),
        (
            body_of({"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [{"name": "Bill"}]}}]}),
            "eventNotifications.0.dataChangeEvent.entities.0.id",
        ),
        (body_of([{**CLOUD_EVENT, "type": "bill.updated"}]), "[0].type"),
        (body_of([{**CLOUD_EVENT, "intuitaccountid": "9" * 40}]), "[0].intuitaccountid"),
        (body_of([{**CLOUD_EVENT, "type": f"qbo.{'x' * 65}.updated.v1"}]), "[0].type"),
        (body_of(["an event"]), "[0]"),
    ],
)
def test_a_malformed_payload_is_refused_naming_the_field(body: bytes, field: str | None) -> None:
    with pytest.raises(InvalidWebhookPayload) as raised:
        parse_events(body)
    assert raised.value.status_code == 400
    assert raised.value.field == field


# ------------------------------------------------------------------------------------------ the sync requester
async def test_a_burst_for_one_realm_is_one_request_until_a_worker_takes_it() -> None:
    requester = InProcessSyncRequester()
    await asyncio.gather(*(requester.request_cdc_sync("1") for _ in range(50)))
    await requester.request_cdc_sync("2")
    assert (requester.queued, requester.merged) == ({"1": 1, "2": 1}, {"1": 49})
    assert requester.waiting() == {"1", "2"}

    assert await requester.take() == "1"
    # Taken, its sync may already be reading QBO: a change after that needs a sync of its own.
    await requester.request_cdc_sync("1")
    assert requester.queued["1"] == 2
    assert [await requester.take(), await requester.take()] == ["2", "1"]
    assert requester.waiting() == set()


async def test_serve_runs_each_request_and_survives_a_failing_sync() -> None:
    requester = InProcessSyncRequester()
    ran: list[str] = []
    both_ran = asyncio.Event()

    async def run_sync(realm_id: str) -> None:
        ran.append(realm_id)
        if len(ran) == 2:
            both_ran.set()
        if realm_id == "broken":
            raise RuntimeError("QBO said no")

    server = asyncio.create_task(requester.serve(run_sync))
    try:
        await requester.request_cdc_sync("broken")
        await requester.request_cdc_sync("fine")
        await asyncio.wait_for(both_ran.wait(), timeout=30)
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    assert ran == ["broken", "fine"]


# -------------------------------------------------------------------------------------------------- the inbox
@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def new_realm_id() -> str:
    return str(secrets.randbelow(10**15) + 9 * 10**15)


async def connected_realm(database: Database, status: ConnectionStatus = ConnectionStatus.CONNECTED) -> str:
    """A business linked to a new realm, its connection in ``status``."""
    realm_id = new_realm_id()
    async with unit_of_work(database.sessionmaker) as session:
        business = Business(name="Webhook Co", timezone="UTC", qbo_realm_id=realm_id)
        session.add(business)
        await session.flush()
        session.add(QBOConnection(business_id=business.id, realm_id=realm_id, status=status))
    return realm_id


def legacy_delivery(realm_id: str, *entity_ids: str, operation: str = "Update") -> bytes:
    entities = [
        {"name": "Bill", "id": entity_id, "operation": operation, "lastUpdated": "2026-11-30T10:00:00.000Z"}
        for entity_id in entity_ids
    ]
    return body_of({"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]})


def signed(body: bytes) -> str:
    return expected_signature(VERIFIER, body)


async def inbox_rows(database: Database, realm_id: str) -> list[QBOWebhookEvent]:
    async with database.sessionmaker() as session:
        statement = select(QBOWebhookEvent).where(QBOWebhookEvent.realm_id == realm_id)
        return list((await session.scalars(statement.order_by(QBOWebhookEvent.entity_id))).all())


async def test_a_delivery_and_its_replays_are_stored_once_and_request_one_sync(database: Database) -> None:
    realm_id = await connected_realm(database)
    requester = InProcessSyncRequester()
    service = WebhookService(database.sessionmaker, requester, verifier_token=VERIFIER)
    body = legacy_delivery(realm_id, "1", "2", "2")  # Intuit may repeat an event even within one delivery

    first = await service.receive(body, signed(body))
    # Redeliveries, two of them at the same moment (Intuit's retry racing its first attempt).
    replays = await asyncio.gather(service.receive(body, signed(body)), service.receive(body, signed(body)))

    assert (first.events, first.stored, first.sync_requested) == (3, 2, (realm_id,))
    assert [(replay.stored, replay.sync_requested) for replay in replays] == [(0, ()), (0, ())]
    rows = await inbox_rows(database, realm_id)
    assert [(row.entity_name, row.entity_id, row.operation, row.processed_at) for row in rows] == [
        ("Bill", "1", "Update", None),
        ("Bill", "2", "Update", None),
    ]
    assert rows[0].raw_event == {
        "name": "Bill",
        "id": "1",
        "operation": "Update",
        "lastUpdated": "2026-11-30T10:00:00.000Z",
    }
    assert rows[0].last_updated_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    # The replays asked for nothing: not even a request the requester had to merge.
    assert (requester.queued[realm_id], requester.merged[realm_id]) == (1, 0)


async def test_a_bad_signature_stores_and_requests_nothing(database: Database) -> None:
    realm_id = await connected_realm(database)
    requester = InProcessSyncRequester()
    service = WebhookService(database.sessionmaker, requester, verifier_token=VERIFIER)
    body = legacy_delivery(realm_id, "1")
    for signature in (None, expected_signature("not-our-token", body)):
        with pytest.raises(InvalidWebhookSignature):
            await service.receive(body, signature)
    assert await inbox_rows(database, realm_id) == []
    assert requester.queued == {}


async def test_events_of_realms_not_connected_are_acknowledged_and_dropped(database: Database) -> None:
    connected = await connected_realm(database)
    disconnected = await connected_realm(database, ConnectionStatus.DISCONNECTED)
    stranger = new_realm_id()
    requester = InProcessSyncRequester()
    service = WebhookService(database.sessionmaker, requester, verifier_token=VERIFIER)
    events = [
        {**CLOUD_EVENT, "id": f"event-{realm_id}", "intuitaccountid": realm_id}
        for realm_id in (stranger, connected, disconnected)
    ]
    body = body_of(events)

    receipt = await service.receive(body, signed(body))

    assert (receipt.events, receipt.stored, receipt.ignored, receipt.sync_requested) == (3, 1, 2, (connected,))
    assert [row.entity_name for row in await inbox_rows(database, connected)] == ["BillPayment"]
    assert await inbox_rows(database, stranger) == await inbox_rows(database, disconnected) == []


async def test_a_sync_stamps_what_it_covered_and_the_sweep_finds_the_rest(database: Database) -> None:
    realm_id = await connected_realm(database)
    service = WebhookService(database.sessionmaker, InProcessSyncRequester(), verifier_token=VERIFIER)
    sync_began = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    before, during = legacy_delivery(realm_id, "1"), legacy_delivery(realm_id, "2")
    with time_machine.travel(sync_began - timedelta(seconds=1), tick=False):
        await service.receive(before, signed(before))
    async with unit_of_work(database.sessionmaker) as session:
        assert realm_id in await WebhookInbox(session).realms_with_unprocessed()
    # A change announced while that sync ran: the sync may not have seen it.
    with time_machine.travel(sync_began + timedelta(seconds=1), tick=False):
        await service.receive(during, signed(during))

    async with unit_of_work(database.sessionmaker) as session:
        assert await WebhookInbox(session).mark_processed(realm_id, received_before=sync_began) == 1

    first, second = await inbox_rows(database, realm_id)
    assert first.processed_at is not None
    assert second.processed_at is None
    async with unit_of_work(database.sessionmaker) as session:
        assert realm_id in await WebhookInbox(session).realms_with_unprocessed()


class UnreachableJobQueue:
    """A requester whose queue is down (e.g. Redis restarting)."""

    async def request_cdc_sync(self, realm_id: str) -> None:
        raise ConnectionError("the job queue is not answering")


async def test_a_failed_sync_request_still_acknowledges_the_stored_events(database: Database) -> None:
    realm_id = await connected_realm(database)
    service = WebhookService(database.sessionmaker, UnreachableJobQueue(), verifier_token=VERIFIER)
    body = legacy_delivery(realm_id, "1")

    receipt = await service.receive(body, signed(body))

    # Stored and acknowledged (Intuit's retries would store nothing new); the sweep will ask for the sync.
    assert receipt.stored == 1
    async with unit_of_work(database.sessionmaker) as session:
        assert realm_id in await WebhookInbox(session).realms_with_unprocessed()
