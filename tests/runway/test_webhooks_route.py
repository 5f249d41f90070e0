"""``POST /webhooks/qbo`` over real HTTP: signed deliveries in both of Intuit's shapes (built and signed by the
sandbox's own sender), refusals that change nothing, replays and bursts that cost one sync, and the embedded default
where a change in the mounted sandbox reaches the inbox by itself."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from oodaloo.domains.core.demo import DEMO_EMAIL
from oodaloo.domains.core.models import Membership, User
from oodaloo.domains.qbo.mirror_models import MirroredBill
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.webhooks import InProcessSyncRequester
from oodaloo.domains.qbo.webhooks_models import QBOWebhookEvent
from oodaloo.infra.db.engine import Database
from oodaloo.sandbox.config import DEFAULT_REALM_ID, DEFAULT_VERIFIER_TOKEN
from oodaloo.sandbox.events import ChangeEvent
from oodaloo.sandbox.webhooks import cloudevents_payload, legacy_payload, signature
from oodaloo.settings import SANDBOX_QBO_WEBHOOK_VERIFIER_TOKEN, Settings
from tests.conftest import new_database_url
from tests.support.app_process import AppProcess, app_settings_env, free_port, oodaloo_command, running
from tests.support.credentials import TEST_SECRET_KEY
from tests.support.production import production_values
from tests.support.qbo import (
    Browsers,
    SandboxCompany,
    Served,
    connect,
    new_business,
    served_beside_a_sandbox,
)
from tests.support.waiting import until as wait_until

WEBHOOK_PATH = "/webhooks/qbo"
# Bounds of the waits on real deliveries (a poll, never a sleep-and-hope): generous for a loaded 2-core machine.
DELIVERY_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05
BURST = 50


@pytest.fixture(scope="module")
def served_app(settings: Settings) -> Iterator[tuple[Served, FastAPI]]:
    with served_beside_a_sandbox(settings) as served_and_app:
        yield served_and_app


@pytest.fixture
def served(served_app: tuple[Served, FastAPI]) -> Served:
    return served_app[0]


@pytest.fixture
def requester(served_app: tuple[Served, FastAPI]) -> Iterator[InProcessSyncRequester]:
    """This test's sync requester on the running app, with no worker taking requests: what waits stays waiting."""
    app = served_app[1]
    original, app.state.sync_requester = app.state.sync_requester, InProcessSyncRequester()
    try:
        yield app.state.sync_requester
    finally:
        app.state.sync_requester = original


@pytest.fixture
def company(served: Served, browsers: Browsers) -> SandboxCompany:
    """A sandbox company of its own, connected to a new business through the OAuth dance."""
    company = SandboxCompany.create(served.sandbox)
    owner = browsers.sign_up("webhooks")
    connect(owner, new_business(owner), served.settings.qbo_redirect_uri, company.realm_id)
    return company


# --------------------------------------------------------------------------------------------------- helpers
def change(realm_id: str, entity_id: str, entity: str = "Bill", operation: str = "Update") -> ChangeEvent:
    return ChangeEvent(realm_id, entity, entity_id, operation, datetime(2026, 11, 30, 18, 15, 2, tzinfo=UTC))


def deliver(served: Served, body: bytes, *, token: str | None = DEFAULT_VERIFIER_TOKEN) -> httpx.Response:
    """POST as Intuit does: the raw body, signed with ``token`` (unsigned when None)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["intuit-signature"] = signature(token, body)
    return httpx.post(served.app + WEBHOOK_PATH, content=body, headers=headers, timeout=30)


def inbox(settings: Settings, realm_id: str) -> list[QBOWebhookEvent]:
    async def read() -> list[QBOWebhookEvent]:
        database = Database(settings.database_url)
        try:
            async with database.sessionmaker() as session:
                statement = select(QBOWebhookEvent).where(QBOWebhookEvent.realm_id == realm_id)
                return list((await session.scalars(statement.order_by(QBOWebhookEvent.received_at))).all())
        finally:
            await database.dispose()

    return asyncio.run(read())


def mirrored_bill(settings: Settings, bill_id: str) -> MirroredBill | None:
    async def read() -> MirroredBill | None:
        database = Database(settings.database_url)
        try:
            async with database.sessionmaker() as session:
                return await session.scalar(select(MirroredBill).where(MirroredBill.qbo_id == bill_id))
        finally:
            await database.dispose()

    return asyncio.run(read())


def qbo_calls(company: SandboxCompany) -> Any:
    response = httpx.get(f"{company.sandbox}/_sandbox/stats", params={"realm_id": company.realm_id})
    response.raise_for_status()
    return response.json()["requests"]


def until(condition: Callable[[], Any], what: str, within: float = DELIVERY_WAIT_SECONDS) -> Any:
    return wait_until(condition, what, within=within, poll_seconds=POLL_SECONDS)


# ------------------------------------------------------------------------------------------------- refusals
def _tampered(body: bytes) -> tuple[bytes, dict[str, str]]:
    # Signed correctly, then changed on the way: the signature no longer matches the body that arrived.
    good = signature(DEFAULT_VERIFIER_TOKEN, body)
    return body.replace(b'"Update"', b'"Delete"'), {"intuit-signature": good}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body: (body, {}), id="missing"),
        pytest.param(lambda body: (body, {"intuit-signature": ""}), id="empty"),
        pytest.param(lambda body: (body, {"intuit-signature": signature("someone-else", body)}), id="other-token"),
        pytest.param(
            lambda body: (body, {"intuit-signature": hmac.new(b"x", body, hashlib.sha256).hexdigest()}), id="hex"
        ),
        pytest.param(_tampered, id="tampered-body"),
    ],
)
def test_a_bad_or_missing_signature_is_refused_and_stores_nothing(
    served: Served,
    company: SandboxCompany,
    requester: InProcessSyncRequester,
    forge: Callable[[bytes], tuple[bytes, dict[str, str]]],
) -> None:
    body, headers = forge(legacy_payload(company.realm_id, [change(company.realm_id, "148")]))

    response = httpx.post(
        served.app + WEBHOOK_PATH, content=body, headers={"Content-Type": "application/json", **headers}, timeout=30
    )

    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_webhook_signature"
    assert "intuit-signature" in response.json()["error"]["message"]
    assert inbox(served.settings, company.realm_id) == []
    assert requester.queued == {}


def test_a_signed_but_malformed_body_is_refused_naming_the_field(
    served: Served, requester: InProcessSyncRequester
) -> None:
    body = json.dumps({"eventNotifications": [{"dataChangeEvent": {"entities": []}}]}).encode()
    response = deliver(served, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_webhook_payload"
    assert response.json()["error"]["field"] == "eventNotifications.0.realmId"
    assert requester.queued == {}


# ------------------------------------------------------------------------------------------------ acceptance
def test_a_legacy_delivery_is_stored_and_answered_without_calling_qbo(
    served: Served, company: SandboxCompany, requester: InProcessSyncRequester
) -> None:
    realm_id = company.realm_id
    events = [change(realm_id, "148"), change(realm_id, "77", "Vendor", "Merge")]
    calls_before = qbo_calls(company)

    response = deliver(served, legacy_payload(realm_id, events))

    assert response.status_code == 200, response.text
    assert response.json() == {"events": 2, "stored": 2, "ignored": 0}
    rows = inbox(served.settings, realm_id)
    assert sorted((row.payload_format, row.entity_name, row.entity_id, row.operation) for row in rows) == [
        ("legacy", "Bill", "148", "Update"),
        ("legacy", "Vendor", "77", "Merge"),
    ]
    assert all(row.last_updated_at == datetime(2026, 11, 30, 18, 15, 2, tzinfo=UTC) for row in rows)
    assert all(row.processed_at is None for row in rows)
    assert requester.queued[realm_id] == 1
    # Answered from the inbox alone: QBO was not asked anything while the request ran.
    assert qbo_calls(company) == calls_before


def test_a_cloudevents_delivery_is_stored_and_unknown_realms_are_acknowledged(
    served: Served, company: SandboxCompany, requester: InProcessSyncRequester
) -> None:
    stranger = str(uuid.uuid4().int)[:16]  # a realm no business here has connected
    events = [change(company.realm_id, "9", "Invoice", "Void"), change(stranger, "10", "Invoice", "Create")]

    response = deliver(served, cloudevents_payload(events, source="intuit.b29kYWxvbw"))

    assert response.status_code == 200, response.text
    assert response.json() == {"events": 2, "stored": 1, "ignored": 1}
    [row] = inbox(served.settings, company.realm_id)
    assert (row.payload_format, row.entity_name, row.entity_id, row.operation) == (
        "cloudevents",
        "Invoice",
        "9",
        "Void",
    )
    assert row.raw_event["type"] == "qbo.invoice.voided.v1"
    assert inbox(served.settings, stranger) == []
    assert requester.queued == {company.realm_id: 1}


def test_a_replayed_webhook_is_processed_once(
    served: Served, company: SandboxCompany, requester: InProcessSyncRequester
) -> None:
    body = cloudevents_payload([change(company.realm_id, "148")], source="intuit.b29kYWxvbw")
    answers = [deliver(served, body) for _ in range(3)]  # Intuit's retries, or an attacker replaying a capture

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [answer.json()["stored"] for answer in answers] == [1, 0, 0]
    assert len(inbox(served.settings, company.realm_id)) == 1
    # One request, and the replays did not even reach the requester.
    assert (requester.queued[company.realm_id], requester.merged[company.realm_id]) == (1, 0)


def test_a_burst_of_50_deliveries_for_one_realm_requests_one_sync(
    served: Served, company: SandboxCompany, requester: InProcessSyncRequester
) -> None:
    bodies = [legacy_payload(company.realm_id, [change(company.realm_id, str(n))]) for n in range(BURST)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda body: deliver(served, body), bodies))

    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers if a.status_code != 200]
    assert len(inbox(served.settings, company.realm_id)) == BURST
    assert requester.queued[company.realm_id] == 1
    assert requester.merged[company.realm_id] == BURST - 1


def test_50_events_in_one_delivery_request_one_sync(
    served: Served, company: SandboxCompany, requester: InProcessSyncRequester
) -> None:
    events = [change(company.realm_id, str(n)) for n in range(BURST)]
    response = deliver(served, legacy_payload(company.realm_id, events))
    assert response.json() == {"events": BURST, "stored": BURST, "ignored": 0}
    assert (requester.queued[company.realm_id], requester.merged[company.realm_id]) == (1, 0)


@pytest.mark.parametrize("payload_format", ["legacy", "cloudevents"])
def test_the_sandboxs_own_signed_deliveries_reach_the_inbox(
    served: Served, company: SandboxCompany, requester: InProcessSyncRequester, payload_format: str
) -> None:
    url = served.app + WEBHOOK_PATH
    registered = httpx.post(f"{served.sandbox}/_sandbox/webhooks", json={"url": url, "format": payload_format})
    assert registered.status_code == 201, registered.text
    try:
        bill = company.new_bill("42.00")

        row = until(
            lambda: next((r for r in inbox(served.settings, company.realm_id) if r.entity_id == bill["Id"]), None),
            "the sandbox's webhook for the new bill",
        )
    finally:
        httpx.request("DELETE", f"{served.sandbox}/_sandbox/webhooks", params={"url": url})
    assert (row.payload_format, row.entity_name, row.operation) == (payload_format, "Bill", "Create")
    assert requester.queued[company.realm_id] == 1


# ------------------------------------------------------------------------------------------- the settings
def test_production_requires_a_webhook_verifier_token_of_its_own() -> None:
    # Elsewhere the default is the sandbox's, so an app and a standalone `oodaloo sandbox` verify each other as is.
    assert SANDBOX_QBO_WEBHOOK_VERIFIER_TOKEN == DEFAULT_VERIFIER_TOKEN
    for refused in (None, DEFAULT_VERIFIER_TOKEN, ""):
        values = production_values(qbo_webhook_verifier_token=refused)
        if refused is None:  # left unset, it defaults to the sandbox's
            del values["qbo_webhook_verifier_token"]
        with pytest.raises(ValidationError, match="OODALOO_QBO_WEBHOOK_VERIFIER_TOKEN must be") as raised:
            Settings(**values)
        assert DEFAULT_VERIFIER_TOKEN not in str(raised.value)


# ----------------------------------------------------------------------------------------- the embedded default
def test_in_the_embedded_default_a_change_in_the_sandbox_reaches_the_inbox(
    settings: Settings, tmp_path: Path, worker_id: str
) -> None:
    """``oodaloo run`` with nothing configured: the mounted sandbox signs its notifications with our verifier token
    and sends them to our endpoint, which stores them and asks for the realm's sync; the sync job runs in-process,
    the new bill reaches the mirror, and the event is marked as covered by that sync."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = new_database_url(tmp_path, f"oodaloo_test_{worker_id}_webhooks_embedded")
    env = app_settings_env(
        port=port,
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        sandbox_state_file=str(tmp_path / "sandbox-state.json"),
        log_format="json",
        mirror_sweep=True,  # the embedded default, on this test's own database
    )
    process = AppProcess(oodaloo_command("run"), env=env, log_path=tmp_path / "app.log", cwd=tmp_path)
    embedded = settings.model_copy(update={"database_url": database_url})
    with running(process):
        process.wait_until_ready(f"{base_url}/readyz")
        until(lambda: demo_connected(embedded), "the demo business to connect to the mounted sandbox")
        company = SandboxCompany(f"{base_url}/qbo-sandbox", DEFAULT_REALM_ID)

        bill = company.new_bill("19.99")

        row = until(
            lambda: next((r for r in inbox(embedded, DEFAULT_REALM_ID) if r.entity_id == bill["Id"]), None),
            "the mounted sandbox's webhook for the new bill",
        )
        assert (row.entity_name, row.operation) == ("Bill", "Create")
        until(lambda: "qbo.cdc_sync_requested" in process.output(), "the realm's sync to be requested")
        mirrored = until(lambda: mirrored_bill(embedded, bill["Id"]), "the new bill to reach the mirror", within=90.0)
        assert mirrored.sync_token == bill["SyncToken"]
        until(
            lambda: all(
                r.processed_at is not None for r in inbox(embedded, DEFAULT_REALM_ID) if r.entity_id == bill["Id"]
            ),
            "the bill's event to be marked as covered by a sync",
            within=90.0,
        )
    assert DEFAULT_VERIFIER_TOKEN not in process.output()


def demo_connected(settings: Settings) -> bool:
    async def read() -> bool:
        database = Database(settings.database_url)
        try:
            async with database.sessionmaker() as session:
                statement = (
                    select(QBOConnection.status)
                    .join(Membership, Membership.business_id == QBOConnection.business_id)
                    .join(User, User.id == Membership.user_id)
                    .where(User.email == DEMO_EMAIL)
                )
                return (await session.scalar(statement)) == ConnectionStatus.CONNECTED
        finally:
            await database.dispose()

    return asyncio.run(read())
