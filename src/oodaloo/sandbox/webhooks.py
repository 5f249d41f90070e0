"""Signed webhook deliveries of store changes, aggregated per realm, retried in order per realm and URL.

Payloads follow Intuit's legacy ``eventNotifications`` shape or, per registration, the CloudEvents array.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from .config import SandboxConfig
from .events import ChangeEvent
from .stats import SandboxStats

logger = logging.getLogger(__name__)

WebhookFormat = Literal["legacy", "cloudevents"]
WEBHOOK_FORMATS: tuple[WebhookFormat, ...] = ("legacy", "cloudevents")
# Intuit's retry schedule (seconds before each retry); the last interval repeats.
INTUIT_RETRY_SCHEDULE: tuple[float, ...] = (0, 10, 20, 30, 300, 1200, 7200, 14400, 21600)
CLOUDEVENT_ACTIONS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Merge": "merged",
    "Void": "voided",
    "Emailed": "emailed",
}
RECENT_DELIVERIES = 100


def signature(verifier_token: str, body: bytes) -> str:
    """The ``intuit-signature`` header: base64 of HMAC-SHA256 over the raw body, keyed by the verifier token."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Registration:
    url: str
    format: WebhookFormat = "legacy"

    def as_json(self) -> dict[str, str]:
        return {"url": self.url, "format": self.format}


@dataclass
class WebhookSettings:
    """Delivery tuning; ``retry_scale`` shrinks Intuit's schedule (e.g. 0.001 makes 10 s into 10 ms)."""

    window_seconds: float = 0.2
    retry_scale: float = 1.0
    max_attempts: int = 10
    delivery_timeout_seconds: float = 3.0

    def validate(self) -> None:
        for name in ("window_seconds", "retry_scale", "delivery_timeout_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError("max_attempts must be a positive integer")


@dataclass
class _Delivery:
    registration: Registration
    realm_id: str
    body: bytes
    event_count: int
    attempts: int = field(default=0)


def _utc_millis(at: datetime) -> str:
    utc = at.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def legacy_payload(realm_id: str, events: Sequence[ChangeEvent]) -> bytes:
    entities = [
        {
            "name": e.entity,
            "id": e.entity_id,
            "operation": e.operation,
            # Intuit reports whole seconds with a zero millisecond part.
            "lastUpdated": f"{e.at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.000Z",
        }
        for e in events
    ]
    payload = {"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]}
    return json.dumps(payload, separators=(",", ":")).encode()


def cloudevents_payload(events: Sequence[ChangeEvent], source: str) -> bytes:
    payload = [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": source,
            "type": f"qbo.{e.entity.lower()}.{CLOUDEVENT_ACTIONS.get(e.operation, e.operation.lower())}.v1",
            "datacontenttype": "application/json",
            "time": _utc_millis(e.at),
            "intuitentityid": e.entity_id,
            "intuitaccountid": e.realm_id,
            "data": {},
        }
        for e in events
    ]
    return json.dumps(payload, separators=(",", ":")).encode()


class WebhookNotifier:
    """Collects change events and POSTs them to every registered URL.

    ``on_change`` only enqueues (it runs inside store writes, possibly on another thread). Events of a
    realm arriving within ``window_seconds`` go out as one notification. Each (URL, realm) pair has its
    own ordered queue: a notification being retried holds back the later ones, as at Intuit. Events
    raised before ``start()`` or while no URL is registered are dropped. ``stats`` counts each attempt.
    """

    def __init__(self, config: SandboxConfig, stats: SandboxStats, *, settings: WebhookSettings | None = None) -> None:
        self.config = config
        self.stats = stats
        self.settings = settings or WebhookSettings()
        self.settings.validate()
        self._lock = threading.Lock()
        self._registrations: dict[str, Registration] = {url: Registration(url) for url in config.webhook_urls}
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_DELIVERIES)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._client: httpx.AsyncClient | None = None
        self._buffers: dict[str, list[ChangeEvent]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._queues: dict[tuple[str, str], asyncio.Queue[_Delivery]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}

    # --- registrations and settings -------------------------------------------------------------

    def register(self, url: str, fmt: str = "legacy") -> Registration:
        if fmt not in WEBHOOK_FORMATS:
            raise ValueError(f"format must be one of {list(WEBHOOK_FORMATS)}")
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be an absolute http(s) URL")
        registration = Registration(url, "cloudevents" if fmt == "cloudevents" else "legacy")
        with self._lock:
            self._registrations[url] = registration
        return registration

    def unregister(self, url: str) -> bool:
        with self._lock:
            return self._registrations.pop(url, None) is not None

    def registrations(self) -> list[Registration]:
        with self._lock:
            return list(self._registrations.values())

    def configure(self, **changes: Any) -> None:
        known = {f.name for f in fields(WebhookSettings)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown webhook setting(s) {unknown}; expected some of {sorted(known)}")
        candidate = replace(self.settings, **changes)
        candidate.validate()
        self.settings = candidate

    def recent_deliveries(self) -> list[dict[str, Any]]:
        """The last attempts, newest last: URL, realm, attempt number, HTTP status or error."""
        with self._lock:
            return list(self._recent)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        # trust_env=False: deliveries go exactly where registered, never through an environment proxy.
        self._client = httpx.AsyncClient(trust_env=False)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._buffers.clear()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
        if self._client is not None:
            await self._client.aclose()
        self._client = None
        self._loop = None

    # --- intake ---------------------------------------------------------------------------------

    def on_change(self, event: ChangeEvent) -> None:
        """Called by the store inside a write: enqueue and return at once."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._accept(event)
        else:
            loop.call_soon_threadsafe(self._accept, event)

    def _accept(self, event: ChangeEvent) -> None:
        if self._loop is None or not self._registrations:
            return
        self._buffers.setdefault(event.realm_id, []).append(event)
        if event.realm_id not in self._timers:
            self._timers[event.realm_id] = self._loop.call_later(
                self.settings.window_seconds, self._flush, event.realm_id
            )

    def _flush(self, realm_id: str) -> None:
        self._timers.pop(realm_id, None)
        events = self._buffers.pop(realm_id, [])
        if not events:
            return
        source = "intuit." + base64.urlsafe_b64encode(self.config.oauth.client_id.encode()).decode().rstrip("=")
        for registration in self.registrations():
            if registration.format == "cloudevents":
                body = cloudevents_payload(events, source)
            else:
                body = legacy_payload(realm_id, events)
            self._queue_for(registration.url, realm_id).put_nowait(_Delivery(registration, realm_id, body, len(events)))

    def _queue_for(self, url: str, realm_id: str) -> asyncio.Queue[_Delivery]:
        key = (url, realm_id)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers[key] = asyncio.get_running_loop().create_task(self._drain(queue))
        return queue

    # --- delivery -------------------------------------------------------------------------------

    async def _drain(self, queue: asyncio.Queue[_Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(delivery)
            except Exception:
                # A bug here must not silently stop this realm's queue for good.
                logger.exception("webhook delivery to %s failed unexpectedly", delivery.registration.url)

    async def _deliver(self, delivery: _Delivery) -> None:
        while delivery.attempts < self.settings.max_attempts:
            if delivery.attempts > 0:
                await asyncio.sleep(self._retry_delay(delivery.attempts))
            if delivery.registration.url not in self._registrations:
                return
            delivery.attempts += 1
            if await self._attempt(delivery):
                return
        logger.warning(
            "webhook to %s for realm %s dropped after %d attempts",
            delivery.registration.url,
            delivery.realm_id,
            delivery.attempts,
        )

    def _retry_delay(self, retry_number: int) -> float:
        schedule = INTUIT_RETRY_SCHEDULE
        base = schedule[min(retry_number, len(schedule)) - 1]
        return base * self.settings.retry_scale

    async def _attempt(self, delivery: _Delivery) -> bool:
        assert self._client is not None, "start() must run before deliveries"
        headers = {
            "Content-Type": "application/json",
            "intuit-signature": signature(self.config.verifier_token, delivery.body),
            "User-Agent": "oodaloo-sandbox-webhooks",
        }
        status: int | None = None
        error = ""
        try:
            response = await self._client.post(
                delivery.registration.url,
                content=delivery.body,
                headers=headers,
                timeout=self.settings.delivery_timeout_seconds,
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        delivered = status is not None and 200 <= status < 300
        self.stats.record_webhook(delivery.realm_id, delivered=delivered)
        with self._lock:
            self._recent.append(
                {
                    "url": delivery.registration.url,
                    "realm_id": delivery.realm_id,
                    "format": delivery.registration.format,
                    "events": delivery.event_count,
                    "attempt": delivery.attempts,
                    "status": status,
                    "error": error or None,
                    "delivered": delivered,
                    "at": datetime.now(UTC).isoformat(),
                }
            )
        return delivered
