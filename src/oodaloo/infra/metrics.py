"""Prometheus metrics of the HTTP surface, in a registry per application (tests build many apps), and the rendering of
``/metrics``: the app's registry followed by any other the app serves (SmartSync's QBO call metrics)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)

from oodaloo.infra.logging import get_logger

logger = get_logger("oodaloo.metrics")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "oodaloo_http_requests",
            "HTTP requests handled, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "oodaloo_http_request_duration_seconds",
            "Time to produce an HTTP response, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(method=method, route=route).observe(seconds)

    def render(self, *more: CollectorRegistry) -> bytes:
        """The text exposition of this registry and then of ``more`` (their metric names must not collide)."""
        return b"".join(generate_latest(registry) for registry in (self.registry, *more))


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> None:
    """Serve ``registry`` at http://host:port/metrics from a daemon thread (a process without a web app of its own:
    ``oodaloo worker``)."""
    start_http_server(port, addr=host, registry=registry)
    logger.info("metrics.serving", address=f"http://{host}:{port}/metrics")
