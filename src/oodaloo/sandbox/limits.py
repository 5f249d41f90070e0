"""QBO's per-realm throttles as moving windows: requests per minute and per second, in-flight, batches per minute."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from .config import LimitsConfig

Clock = Callable[[], float]
Verdict = Literal["ok", "concurrent", "per_second", "per_minute", "batch_per_minute"]


class _Window:
    """Costs admitted in the last ``span`` seconds; trimming keeps each call amortised O(1)."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._entries: deque[tuple[float, int]] = deque()
        self.total = 0

    def trim(self, now: float) -> None:
        while self._entries and self._entries[0][0] <= now - self.span:
            self.total -= self._entries.popleft()[1]

    def admits(self, cost: int, limit: int) -> bool:
        # A request bigger than the whole budget (a 30-item batch against 10/second) still passes
        # when the window is empty; otherwise it could never pass at all.
        return self.total == 0 or self.total + cost <= limit

    def add(self, now: float, cost: int) -> None:
        self._entries.append((now, cost))
        self.total += cost


@dataclass
class _RealmUsage:
    per_second: _Window = field(default_factory=lambda: _Window(1.0))
    per_minute: _Window = field(default_factory=lambda: _Window(60.0))
    batches: _Window = field(default_factory=lambda: _Window(60.0))
    in_flight: int = 0


class RealmLimiter:
    """Admits or refuses /v3 requests per realm. Refused requests consume no budget.

    A batch counts each of its items against the per-second and per-minute budgets and once against
    the batch budget. ``release`` must follow every admitted request (it ends the in-flight slot).
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

    def acquire(self, realm_id: str, *, cost: int = 1, is_batch: bool = False) -> Verdict:
        """Admit (``"ok"``, taking an in-flight slot) or name the limit that refuses the request."""
        with self._lock:
            usage = self._realms.setdefault(realm_id, _RealmUsage())
            if not self.config.enabled:
                usage.in_flight += 1
                return "ok"
            now = self.clock()
            verdict = self._verdict(usage, now, cost, is_batch)
            if verdict == "ok":
                usage.per_second.add(now, cost)
                usage.per_minute.add(now, cost)
                if is_batch:
                    usage.batches.add(now, 1)
                usage.in_flight += 1
            return verdict

    def try_acquire(self, realm_id: str, *, cost: int = 1, is_batch: bool = False) -> bool:
        return self.acquire(realm_id, cost=cost, is_batch=is_batch) == "ok"

    def release(self, realm_id: str) -> None:
        with self._lock:
            usage = self._realms.get(realm_id)
            if usage is not None and usage.in_flight > 0:
                usage.in_flight -= 1

    def reset(self, realm_id: str | None = None) -> None:
        """Forget consumed budgets (in-flight counts stay: those requests are still running)."""
        with self._lock:
            targets = self._realms.values() if realm_id is None else [self._realms.get(realm_id)]
            for usage in targets:
                if usage is not None:
                    usage.per_second, usage.per_minute, usage.batches = _Window(1.0), _Window(60.0), _Window(60.0)

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
        with self._lock:
            now = self.clock()
            realms: dict[str, dict[str, int]] = {}
            for realm_id, usage in sorted(self._realms.items()):
                for window in (usage.per_second, usage.per_minute, usage.batches):
                    window.trim(now)
                realms[realm_id] = {
                    "last_second": usage.per_second.total,
                    "last_minute": usage.per_minute.total,
                    "batches_last_minute": usage.batches.total,
                    "in_flight": usage.in_flight,
                }
            return {"limits": asdict(self.config), "realms": realms}

    def _verdict(self, usage: _RealmUsage, now: float, cost: int, is_batch: bool) -> Verdict:
        for window in (usage.per_second, usage.per_minute, usage.batches):
            window.trim(now)
        if usage.in_flight >= self.config.concurrent:
            return "concurrent"
        if is_batch and not usage.batches.admits(1, self.config.batch_per_minute):
            return "batch_per_minute"
        if not usage.per_second.admits(cost, self.config.per_second):
            return "per_second"
        if not usage.per_minute.admits(cost, self.config.per_minute):
            return "per_minute"
        return "ok"
