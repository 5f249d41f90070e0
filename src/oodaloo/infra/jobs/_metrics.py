"""Prometheus metrics of SmartSync's QBO calls, circuits and mirror syncs, in a registry per service (tests build many
services)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from oodaloo.infra.jobs._breaker import BreakerState

SLOT_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# The circuit state gauge's values: ordered by how much of the realm's traffic is refused.
CIRCUIT_STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "oodaloo_qbo_requests",
            "QBO requests sent, by realm, call label and outcome (HTTP status or transport error kind).",
            # Realm ids are a bounded set: the deployment's connected companies.
            ["realm_id", "label", "outcome"],
            registry=self.registry,
        )
        self.retries = Counter(
            "oodaloo_qbo_retries",
            "QBO requests retried, by reason (HTTP status, transport error kind, or 401 refresh).",
            ["reason"],
            registry=self.registry,
        )
        self.throttled = Counter(
            "oodaloo_qbo_throttled", "429 answers seen from QBO, by priority.", ["priority"], registry=self.registry
        )
        self.circuit_transitions = Counter(
            "oodaloo_qbo_circuit_transitions",
            "Circuit breaker transitions (opened, reopened, closed).",
            ["transition"],
            registry=self.registry,
        )
        self.circuit_refusals = Counter(
            "oodaloo_qbo_circuit_refusals",
            "Calls refused without reaching QBO because the realm's circuit was open.",
            registry=self.registry,
        )
        self.circuit_state = Gauge(
            "oodaloo_qbo_circuit_state",
            "The realm's circuit as this process last saw it: 0 closed, 1 half-open, 2 open.",
            ["realm_id"],
            registry=self.registry,
        )
        self.last_sync = Gauge(
            "oodaloo_mirror_last_sync_timestamp_seconds",
            "When the business's mirror last finished a successful sync in this process (Unix time); lag is "
            "time() minus it.",
            ["business_id"],
            registry=self.registry,
        )
        self.slot_wait = Histogram(
            "oodaloo_qbo_slot_wait_seconds",
            "Time spent waiting for a rate-limiter slot, by priority.",
            ["priority"],
            buckets=SLOT_WAIT_BUCKETS,
            registry=self.registry,
        )

    def set_circuit_state(self, realm_id: str, state: BreakerState) -> None:
        self.circuit_state.labels(realm_id=realm_id).set(CIRCUIT_STATE_VALUES[state])
