"""Webhook deliveries to a receiver on loopback: signature, legacy and CloudEvents payloads, aggregation, retries."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oodaloo.sandbox.config import SandboxConfig
from oodaloo.sandbox.events import ChangeEvent
from oodaloo.sandbox.stats import SandboxStats
from oodaloo.sandbox.webhooks import WebhookNotifier, WebhookSettings, legacy_payload, signature
from tests.support.servers import serve

REALM = "9130357012345678"
OTHER_REALM = "9130357012349999"
VERIFIER = "emu-verifier-123"
PACIFIC = timezone(timedelta(hours=-8))


@dataclass
class Receiver:
    """An HTTP endpoint that records deliveries and fails the first ``failures`` of them."""

    failures: int = 0
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.attempts += 1
            if self.attempts <= self.failures:
                return Response("busy", status_code=503)
            self.received.append((body, dict(request.headers)))
        return Response(status_code=200)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def wait_for(self, count: int) -> list[tuple[bytes, dict[str, str]]]:
        await eventually(lambda: len(self.received) >= count)
        return list(self.received)


# Generous: polling returns as soon as the condition holds, and a loaded CI machine may be slow to deliver.
POLL_BOUND_SECONDS = 30.0


async def eventually(condition: Callable[[], bool], within_seconds: float = POLL_BOUND_SECONDS) -> bool:
    """Poll ``condition`` until it holds or the bound runs out (the notifier delivers on its own tasks)."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while not condition():
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def event(entity: str, entity_id: str, operation: str = "Update", realm_id: str = REALM) -> ChangeEvent:
    return ChangeEvent(realm_id, entity, entity_id, operation, datetime(2025, 3, 4, 10, 15, 2, 731000, PACIFIC))


def test_signature_matches_the_documented_vectors() -> None:
    assert signature("verify_me", b'{"stuff":"5"}') == "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="
    body = legacy_payload(REALM, [event("Bill", "148")])
    assert body == (
        b'{"eventNotifications":[{"realmId":"9130357012345678","dataChangeEvent":{"entities":'
        b'[{"name":"Bill","id":"148","operation":"Update","lastUpdated":"2025-03-04T18:15:02.000Z"}]}}]}'
    )
    documented = body.replace(b"18:15:02", b"10:15:02")
    assert signature(VERIFIER, documented) == "HRk/8/vAeuW7kv16WtWnFGwEktW0JxDS0Q94E4WgQkI="


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with serve(hook.app()) as base:
        yield hook, base + "/hook"


@pytest.fixture
async def notifier(receiver: tuple[Receiver, str]) -> AsyncIterator[WebhookNotifier]:
    config = SandboxConfig(verifier_token=VERIFIER, webhook_urls=[receiver[1]])
    notifier = WebhookNotifier(config, SandboxStats(), settings=WebhookSettings(window_seconds=0.05, retry_scale=0.001))
    await notifier.start()
    yield notifier
    await notifier.stop()


def verified_json(body: bytes, headers: dict[str, str]) -> Any:
    expected = base64.b64encode(hmac.new(VERIFIER.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["intuit-signature"], expected)
    assert headers["content-type"] == "application/json"
    return json.loads(body)


async def test_events_within_the_window_arrive_as_one_signed_notification(
    notifier: WebhookNotifier, receiver: tuple[Receiver, str]
) -> None:
    hook, _ = receiver
    notifier.on_change(event("Bill", "148", "Create"))
    notifier.on_change(event("Vendor", "77", "Update"))
    notifier.on_change(event("Bill", "9", "Create", realm_id=OTHER_REALM))
    received = await hook.wait_for(2)
    assert len(received) == 2
    by_realm = {}
    for body, headers in received:
        notification = verified_json(body, headers)["eventNotifications"]
        assert len(notification) == 1
        by_realm[notification[0]["realmId"]] = notification[0]["dataChangeEvent"]["entities"]
    assert by_realm[REALM] == [
        {"name": "Bill", "id": "148", "operation": "Create", "lastUpdated": "2025-03-04T18:15:02.000Z"},
        {"name": "Vendor", "id": "77", "operation": "Update", "lastUpdated": "2025-03-04T18:15:02.000Z"},
    ]
    assert [e["id"] for e in by_realm[OTHER_REALM]] == ["9"]
    assert await eventually(lambda: notifier.stats.snapshot(REALM)["webhooks_sent"] == 1)


async def test_failed_delivery_is_retried_in_order(notifier: WebhookNotifier, receiver: tuple[Receiver, str]) -> None:
    hook, _ = receiver
    hook.failures = 2
    notifier.configure(retry_scale=0.02)  # retries after 0 s and 0.2 s
    notifier.on_change(event("Bill", "1"))
    assert await eventually(lambda: hook.attempts == 2)  # the first notification now waits for its second retry
    notifier.on_change(event("Bill", "2"))
    received = await hook.wait_for(2)
    ids = [verified_json(b, h)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["id"] for b, h in received]
    assert ids == ["1", "2"]
    assert hook.attempts == 4
    assert await eventually(lambda: len(notifier.recent_deliveries()) == 4)
    stats = notifier.stats.snapshot(REALM)
    assert (stats["webhooks_sent"], stats["webhooks_failed"]) == (2, 2)
    attempts = [d["attempt"] for d in notifier.recent_deliveries()]
    assert attempts == [1, 2, 3, 1]


async def test_retries_are_bounded(notifier: WebhookNotifier, receiver: tuple[Receiver, str]) -> None:
    hook, _ = receiver
    hook.failures = 3  # the receiver answers from the fourth attempt on
    notifier.configure(max_attempts=3)
    notifier.on_change(event("Bill", "1"))
    assert await eventually(lambda: notifier.stats.snapshot(REALM)["webhooks_failed"] == 3)
    # The realm's deliveries are one ordered queue: the next notification goes out only once the first is given up,
    # so when it arrives we know the first got no fourth attempt (which would have succeeded and been received).
    notifier.on_change(event("Bill", "2"))
    received = await hook.wait_for(1)
    ids = [verified_json(b, h)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["id"] for b, h in received]
    assert ids == ["2"]
    assert hook.attempts == 4
    assert notifier.stats.snapshot(REALM)["webhooks_failed"] == 3


async def test_cloudevents_registration_gets_an_array(
    notifier: WebhookNotifier, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    notifier.register(url, "cloudevents")
    notifier.on_change(event("Invoice", "31", "Void"))
    body, headers = (await hook.wait_for(1))[0]
    events = verified_json(body, headers)
    assert isinstance(events, list)
    assert events[0]["type"] == "qbo.invoice.voided.v1"
    assert events[0]["intuitaccountid"] == REALM
    assert events[0]["intuitentityid"] == "31"
    assert events[0]["specversion"] == "1.0"
    assert events[0]["time"] == "2025-03-04T18:15:02.731Z"


async def test_nothing_is_sent_without_registrations(notifier: WebhookNotifier, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    assert notifier.unregister(url)
    notifier.on_change(event("Bill", "1"))
    # Register again and change something else: had the first change been kept, it would arrive now (same window).
    notifier.register(url)
    notifier.on_change(event("Bill", "2"))
    body, headers = (await hook.wait_for(1))[0]
    entities = verified_json(body, headers)["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert [e["id"] for e in entities] == ["2"]
    assert hook.attempts == 1


async def test_events_from_another_thread_are_delivered(
    notifier: WebhookNotifier, receiver: tuple[Receiver, str]
) -> None:
    hook, _ = receiver

    def write_bills() -> None:
        for i in range(5):
            notifier.on_change(event("Bill", str(i)))

    writer = threading.Thread(target=write_bills)
    writer.start()
    writer.join()
    body, headers = (await hook.wait_for(1))[0]
    entities = verified_json(body, headers)["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert [e["id"] for e in entities] == ["0", "1", "2", "3", "4"]


def test_settings_are_validated() -> None:
    notifier = WebhookNotifier(SandboxConfig(), SandboxStats())
    with pytest.raises(ValueError, match="max_attempts"):
        notifier.configure(max_attempts=0)
    with pytest.raises(ValueError, match="unknown webhook setting"):
        notifier.configure(colour="red")
    with pytest.raises(ValueError, match="format"):
        notifier.register("http://127.0.0.1:1/x", "xml")
