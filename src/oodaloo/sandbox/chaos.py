"""Reproducible fault injection for /v3: latency, 5xx, timeouts, lost responses and revoked tokens.

Draws come from one ``random.Random`` per realm seeded from ``seed`` and the realm id, so the same seed
and the same request order per realm give the same faults. One-shot injections take precedence.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, cast

from .config import FaultConfig

FaultKind = Literal["500", "502", "503", "timeout", "lost_response", "timeout_after_commit", "revoke_token"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "500",
    "502",
    "503",
    "timeout",
    "lost_response",
    "timeout_after_commit",
    "revoke_token",
)
# Only writes can lose their response: the point is a committed write the client cannot see.
WRITE_ONLY_KINDS = frozenset({"lost_response", "timeout_after_commit"})


@dataclass(frozen=True)
class Decision:
    """What to do with one request: wait ``latency_seconds``, then fail with ``fault`` (or not)."""

    latency_seconds: float
    fault: FaultKind | None


class Chaos:
    """Decides latency and failures per request; reconfigurable at run time."""

    def __init__(self, config: FaultConfig) -> None:
        validate_fault_config(config)
        self.config = config
        self._lock = threading.Lock()
        self._rngs: dict[str, random.Random] = {}
        self._queued: dict[str, deque[FaultKind]] = {}

    def decide(self, realm_id: str, *, is_write: bool) -> Decision:
        with self._lock:
            rng = self._rngs.get(realm_id)
            if rng is None:
                # A string seed hashes deterministically (unlike hash()), so runs are repeatable.
                rng = self._rngs[realm_id] = random.Random(f"{self.config.seed}:{realm_id}")
            # Always three draws per request, so one request's outcome never shifts the next one's.
            jitter_draw, failure_draw, kind_draw = rng.random(), rng.random(), rng.random()
            latency_ms = self.config.latency_ms + (2 * jitter_draw - 1) * self.config.jitter_ms
            latency = max(0.0, latency_ms) / 1000
            queued = self._queued.get(realm_id)
            if queued:
                return Decision(latency, queued.popleft())
            if failure_draw >= self.config.error_rate:
                return Decision(latency, None)
            return Decision(latency, self._pick_kind(kind_draw, is_write=is_write))

    def inject_next(self, realm_id: str, kind: str, count: int = 1) -> None:
        """Make the realm's next ``count`` /v3 requests (reads or writes) fail with ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {list(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._queued.setdefault(realm_id, deque()).extend([kind] * count)

    def clear_injections(self, realm_id: str | None = None) -> None:
        with self._lock:
            if realm_id is None:
                self._queued.clear()
            else:
                self._queued.pop(realm_id, None)

    def configure(self, **changes: Any) -> None:
        """Change fault settings; raises ``ValueError`` with a clear message and changes nothing if invalid."""
        known = {f.name for f in fields(FaultConfig)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; expected some of {sorted(known)}")
        candidate = FaultConfig(**{**asdict(self.config), **changes})
        validate_fault_config(candidate)
        with self._lock:
            for name in changes:
                setattr(self.config, name, getattr(candidate, name))
            if "seed" in changes:
                self._rngs.clear()

    def reseed(self) -> None:
        """Restart every realm's draw sequence from the seed."""
        with self._lock:
            self._rngs.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            pending = {realm: list(kinds) for realm, kinds in sorted(self._queued.items()) if kinds}
            return {**asdict(self.config), "pending_injections": pending}

    def _pick_kind(self, draw: float, *, is_write: bool) -> FaultKind | None:
        weights = [
            (cast(FaultKind, kind), weight)
            for kind, weight in sorted(self.config.kinds.items())
            if weight > 0 and (is_write or kind not in WRITE_ONLY_KINDS)
        ]
        total = sum(weight for _, weight in weights)
        if total <= 0:
            return None
        point = draw * total
        for kind, weight in weights:
            point -= weight
            if point < 0:
                return kind
        return weights[-1][0]


def validate_fault_config(config: FaultConfig) -> None:
    """Raise ``ValueError`` naming the first invalid setting."""
    for name in ("latency_ms", "jitter_ms", "timeout_seconds"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a number >= 0")
    rate = config.error_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ValueError("error_rate must be a number between 0 and 1")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int):
        raise ValueError("seed must be an integer")
    if not isinstance(config.kinds, dict):
        raise ValueError("kinds must be an object mapping fault kind to weight")
    for kind, weight in config.kinds.items():
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} in kinds; expected some of {list(FAULT_KINDS)}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"weight of fault kind {kind!r} must be a number >= 0")
