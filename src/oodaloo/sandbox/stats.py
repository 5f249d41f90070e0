"""Per-realm counters shown at ``/_sandbox/stats``: requests by endpoint and status, 429s by limit, writes."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RealmStats:
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    throttled: int = 0
    # Which limit refused each throttled request: "per_second", "batch_per_minute", ...
    throttled_by: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    writes: int = 0
    replayed_writes: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0

    def as_json(self) -> dict[str, Any]:
        by_endpoint: dict[str, dict[str, int]] = {}
        for (endpoint, status), count in sorted(self.requests.items()):
            by_endpoint.setdefault(endpoint, {})[str(status)] = count
        return {
            "requests_total": sum(self.requests.values()),
            "requests": by_endpoint,
            "throttled": self.throttled,
            "throttled_by": dict(sorted(self.throttled_by.items())),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "writes": self.writes,
            "replayed_writes": self.replayed_writes,
            "webhooks_sent": self.webhooks_sent,
            "webhooks_failed": self.webhooks_failed,
        }


class SandboxStats:
    """Thread-safe counters keyed by realm id. Endpoint names are short, e.g. ``query``, ``bill``, ``batch``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._realms: dict[str, RealmStats] = {}

    def _realm(self, realm_id: str) -> RealmStats:
        realm = self._realms.get(realm_id)
        if realm is None:
            realm = self._realms[realm_id] = RealmStats()
        return realm

    def record_request(self, realm_id: str, endpoint: str, status: int) -> None:
        with self._lock:
            realm = self._realm(realm_id)
            realm.requests[(endpoint, status)] += 1
            if status == 429:
                realm.throttled += 1

    def record_refusal(self, realm_id: str, limit: str) -> None:
        """Name the limit behind a 429 (``record_request`` counts the response itself)."""
        with self._lock:
            self._realm(realm_id).throttled_by[limit] += 1

    def enter(self, realm_id: str) -> None:
        with self._lock:
            realm = self._realm(realm_id)
            realm.in_flight += 1
            realm.max_in_flight = max(realm.max_in_flight, realm.in_flight)

    def leave(self, realm_id: str) -> None:
        with self._lock:
            self._realm(realm_id).in_flight -= 1

    def record_write(self, realm_id: str, *, replayed: bool) -> None:
        with self._lock:
            realm = self._realm(realm_id)
            if replayed:
                realm.replayed_writes += 1
            else:
                realm.writes += 1

    def record_webhook(self, realm_id: str, *, delivered: bool) -> None:
        with self._lock:
            realm = self._realm(realm_id)
            if delivered:
                realm.webhooks_sent += 1
            else:
                realm.webhooks_failed += 1

    def snapshot(self, realm_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            if realm_id is not None:
                return self._realm(realm_id).as_json()
            return {rid: r.as_json() for rid, r in sorted(self._realms.items())}

    def reset(self, realm_id: str | None = None) -> None:
        with self._lock:
            if realm_id is None:
                self._realms.clear()
            else:
                self._realms.pop(realm_id, None)
