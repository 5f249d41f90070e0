"""The assembled app over real HTTP: probes, metrics, request ids, and the error envelope."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from sqlalchemy import func, select

from oodaloo.domains.core.models import Business
from oodaloo.infra.db.engine import Database
from oodaloo.main import create_app
from oodaloo.runway.deps import SessionDep
from oodaloo.settings import Settings
from tests.conftest import TEST_REDIS_URL, Account
from tests.support.servers import serve


def test_liveness_and_readiness(anonymous: httpx.Client) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    expected = {"database": "ok", "redis": "ok"} if TEST_REDIS_URL else {"database": "ok"}
    assert ready.json()["checks"] == expected


def test_readiness_names_what_is_down(settings: Settings) -> None:
    # Port 9 (discard) on loopback has no Redis: the probe must fail fast and say so.
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    with serve(create_app(broken)) as base_url:
        response = httpx.get(f"{base_url}/readyz")
        liveness = httpx.get(f"{base_url}/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
    assert response.json()["checks"]["database"] == "ok"
    assert liveness.status_code == 200


def test_metrics_count_requests_by_route_template(make_account: Callable[..., Account]) -> None:
    account = make_account()
    account.client.get(f"/api/businesses/{account.user_id}")
    text = account.client.get("/metrics").text
    assert 'oodaloo_http_requests_total{method="GET",route="/api/businesses/{business_id}",status="404"}' in text
    assert "oodaloo_http_request_duration_seconds_bucket" in text


def test_every_response_carries_a_request_id(anonymous: httpx.Client) -> None:
    generated = anonymous.get("/healthz").headers["x-request-id"]
    assert len(generated) >= 16
    echoed = anonymous.get("/healthz", headers={"X-Request-ID": "trace-abc-123"})
    assert echoed.headers["x-request-id"] == "trace-abc-123"
    injected = anonymous.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert injected.headers["x-request-id"] != "bad id\twith spaces"


def test_unknown_paths_and_methods_use_the_error_envelope(anonymous: httpx.Client) -> None:
    missing = anonymous.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not Found.", "field": None}}
    wrong_method = anonymous.put("/api/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    malformed = anonymous.post("/api/auth/signup", content=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid_input"
    assert malformed.json()["error"]["field"] is None


def test_unexpected_error_is_a_generic_500_and_nothing_is_half_written(settings: Settings) -> None:
    app = create_app(settings)
    marker = "Half-written Ltd 7f3a"

    @app.post("/test/explode")
    async def explode(session: SessionDep) -> None:
        session.add(Business(name=marker, timezone="UTC", currency="USD"))
        await session.flush()
        raise RuntimeError("secret internal detail /srv/app.py line 42")

    with serve(app) as base_url:
        response = httpx.post(f"{base_url}/test/explode")

    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["request_id"] in error["message"]
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert asyncio.run(_count_businesses_named(settings.database_url, marker)) == 0


async def _count_businesses_named(database_url: str, name: str) -> int:
    database = Database(database_url)
    try:
        async with database.session() as session:
            result = await session.execute(select(func.count()).where(Business.name == name))
            return int(result.scalar_one())
    finally:
        await database.dispose()
