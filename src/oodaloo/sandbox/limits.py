"""QBO's throttles as moving windows: per realm, and per realm and app, requests and batch requests.

The model (Intuit's "API call limits and throttles" page; its 2016 throttling notice): 500 requests per
minute per realm; 10 per second and 10 in flight per realm and app; 40 batch requests per minute per realm
and app, 120 per realm. A batch is one request: it counts once in the request windows and once in the batch
windows, whatever its number of items (neither source meters items).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from .config import LimitsConfig

Clock = Callable[[], float]
Verdict = Literal["ok", "concurrent", "per_second", "per_minute", "batch_per_minute", "realm_batch_per_minute"]
# The app of a request the caller cannot attribute (tests and tools that call the limiter directly).
UNKNOWN_APP = ""


class _Window:
    """Requests admitted in the last ``span`` seconds; trimming keeps each call amortised O(1)."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._admitted: deque[float] = deque()

    @property
    def total(self) -> int:
        return len(self._admitted)

    def trim(self, now: float) -> None:
        while self._admitted and self._admitted[0] <= now - self.span:
            self._admitted.popleft()

    def admits(self, limit: int) -> bool:
        return len(self._admitted) < limit

    def add(self, now: float) -> None:
        self._admitted.append(now)


@dataclass
class _AppUsage:
    """What one app uses of one realm: the budgets QBO keeps per realm and app."""

    per_second: _Window = field(default_factory=lambda: _Window(1.0))
    batches: _Window = field(default_factory=lambda: _Window(60.0))
    in_flight: int = 0

    def windows(self) -> tuple[_Window, ...]:
        return self.per_second, self.batches

    def forget(self) -> None:
        self.per_second, self.batches = _Window(1.0), _Window(60.0)


@dataclass
class _RealmUsage:
    """The budgets QBO keeps per realm, shared by every app, and each app's own."""

    per_minute: _Window = field(default_factory=lambda: _Window(60.0))
    batches: _Window = field(default_factory=lambda: _Window(60.0))
    apps: dict[str, _AppUsage] = field(default_factory=dict)

    def app(self, app_id: str) -> _AppUsage:
        return self.apps.setdefault(app_id, _AppUsage())

    def trim(self, now: float) -> None:
        for window in (self.per_minute, self.batches):
            window.trim(now)
        for app in self.apps.values():
            for window in app.windows():
                window.trim(now)

    def forget(self) -> None:
        self.per_minute, self.batches = _Window(60.0), _Window(60.0)
        for app in self.apps.values():
            app.forget()


class RealmLimiter:
    """Admits or refuses /v3 requests per realm and app. Refused requests consume no budget.

    ``release`` must follow every admitted request, with the same realm and app (it ends the in-flight slot).
    """

    def __init__(self, config: LimitsConfig, *, clock: Clock = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._realms: dict[str, _RealmUsage] = {}

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.config.enabled = value

    def acquire(self, realm_id: str, *, app_id: str = UNKNOWN_APP, is_batch: bool = False) -> Verdict:
        """Admit (``"ok"``, taking an in-flight slot) or name the limit that refuses the request."""
        with self._lock:
            realm = self._realms.setdefault(realm_id, _RealmUsage())
            app = realm.app(app_id)
            if not self.config.enabled:
                app.in_flight += 1
                return "ok"
            now = self.clock()
            realm.trim(now)
            verdict = self._verdict(realm, app, is_batch)
            if verdict == "ok":
                realm.per_minute.add(now)
                app.per_second.add(now)
                if is_batch:
                    realm.batches.add(now)
                    app.batches.add(now)
                app.in_flight += 1
            return verdict

    def try_acquire(self, realm_id: str, *, app_id: str = UNKNOWN_APP, is_batch: bool = False) -> bool:
        return self.acquire(realm_id, app_id=app_id, is_batch=is_batch) == "ok"

    def release(self, realm_id: str, *, app_id: str = UNKNOWN_APP) -> None:
        with self._lock:
            realm = self._realms.get(realm_id)
            app = realm.apps.get(app_id) if realm is not None else None
            if app is not None and app.in_flight > 0:
                app.in_flight -= 1

    def reset(self, realm_id: str | None = None) -> None:
        """Forget consumed budgets (in-flight counts stay: those requests are still running)."""
        with self._lock:
            targets = self._realms.values() if realm_id is None else [self._realms.get(realm_id)]
            for realm in targets:
                if realm is not None:
                    realm.forget()

    def configure(self, **changes: Any) -> None:
        """Change limits at run time; raises ``ValueError`` naming the bad field."""
        known = {f.name for f in fields(LimitsConfig)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown limit {name!r}; expected one of {sorted(known)}")
            if name == "enabled":
                if not isinstance(value, bool):
                    raise ValueError("enabled must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer")
        with self._lock:
            for name, value in changes.items():
                setattr(self.config, name, value)

    def snapshot(self) -> dict[str, Any]:
        """Every window's current use, per realm (summed over apps) and per realm and app."""
        with self._lock:
            now = self.clock()
            realms: dict[str, dict[str, Any]] = {}
            for realm_id, realm in sorted(self._realms.items()):
                realm.trim(now)
                apps = {
                    app_id: {
                        "last_second": app.per_second.total,
                        "batches_last_minute": app.batches.total,
                        "in_flight": app.in_flight,
                    }
                    for app_id, app in sorted(realm.apps.items())
                }
                realms[realm_id] = {
                    "last_second": sum(app["last_second"] for app in apps.values()),
                    "last_minute": realm.per_minute.total,
                    "batches_last_minute": realm.batches.total,
                    "in_flight": sum(app["in_flight"] for app in apps.values()),
                    "apps": apps,
                }
            return {"limits": asdict(self.config), "realms": realms}

    def _verdict(self, realm: _RealmUsage, app: _AppUsage, is_batch: bool) -> Verdict:
        config = self.config
        if app.in_flight >= config.concurrent:
            return "concurrent"
        if is_batch and not app.batches.admits(config.batch_per_minute):
            return "batch_per_minute"
        if is_batch and not realm.batches.admits(config.realm_batch_per_minute):
            return "realm_batch_per_minute"
        if not app.per_second.admits(config.per_second):
            return "per_second"
        if not realm.per_minute.admits(config.per_minute):
            return "per_minute"
        return "ok"
