"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from oodaloo.infra.health import readiness
from oodaloo.infra.jobs.smart_sync import SmartSyncService
from oodaloo.infra.metrics import HttpMetrics
from oodaloo.runway.deps import get_database

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving; touches nothing else."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is down; ``down`` names it."}})
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database (and Redis, when configured) answer."""
    checks = await readiness(get_database(request), request.app.state.redis)
    down = sorted(name for name, state in checks.items() if state != "ok")
    body = {"status": "not_ready" if down else "ready", "checks": checks, "down": down}
    return JSONResponse(body, status_code=503 if down else 200)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The app's HTTP metrics and its SmartSync's: QBO calls by realm, retries, circuits, slots, mirror syncs."""
    http_metrics: HttpMetrics = request.app.state.metrics
    sync: SmartSyncService = request.app.state.smart_sync
    return Response(http_metrics.render(sync.metrics.registry), media_type=http_metrics.content_type)
