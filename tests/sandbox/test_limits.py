"""QBO throttles: per second, per minute, in flight and batches per minute, through the /v3 gate over real HTTP.

A batch is one request to every window: Intuit's limits page and 2016 throttling notice count batch requests, not items.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from oodaloo.sandbox.chaos import Chaos
from oodaloo.sandbox.config import FaultConfig, LimitsConfig, OAuthConfig
from oodaloo.sandbox.gate import V3Gate
from oodaloo.sandbox.limits import RealmLimiter
from oodaloo.sandbox.oauth import TokenRegistry
from oodaloo.sandbox.stats import SandboxStats
from tests.support.servers import Swappable, serve

REALM = "4620816365000001"
OTHER_REALM = "4620816365000002"
OTHER_APP = "another-qbo-app"


@dataclass
class FakeClock:
    now: float = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def query(_request: Request) -> JSONResponse:
    return JSONResponse({"QueryResponse": {}})


# Held requests wait for the test to let them go, so "in flight" does not depend on how fast the machine is.
RELEASE_HELD = threading.Event()


async def held(_request: Request) -> JSONResponse:
    await anyio.to_thread.run_sync(RELEASE_HELD.wait, 60)
    return JSONResponse({"QueryResponse": {}})


async def batch(request: Request) -> JSONResponse:
    items = (await request.json())["BatchItemRequest"]
    return JSONResponse({"BatchItemResponse": [{"bId": item["bId"]} for item in items]})


@dataclass
class Gated:
    http: httpx.Client
    base: str
    limiter: RealmLimiter
    stats: SandboxStats
    chaos: Chaos
    clock: FakeClock
    token: dict[str, str]
    tokens: TokenRegistry

    def query(self, realm_id: str = REALM, *, token: str | None = None) -> int:
        return self.http.get(
            f"/v3/company/{realm_id}/query",
            params={"query": "select * from Bill"},
            headers=self.auth(realm_id, token=token),
        ).status_code

    def batch(self, items: int, *, token: str | None = None) -> httpx.Response:
        body = {"BatchItemRequest": [{"bId": str(i), "Query": "select * from Bill"} for i in range(items)]}
        return self.http.post(
            f"/v3/company/{REALM}/batch",
            content=json.dumps(body),
            headers={**self.auth(REALM, token=token), "Content-Type": "application/json"},
        )

    def auth(self, realm_id: str, *, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token[realm_id]}", "Accept": "application/json"}

    def other_app_token(self, client_id: str = OTHER_APP) -> str:
        """A token for REALM issued to another app: QBO keeps per-second and batch budgets per realm and app."""
        return str(self.tokens.mint(REALM, client_id=client_id)["access_token"])


@pytest.fixture
def gated(request: pytest.FixtureRequest, server: tuple[Swappable, str]) -> Iterator[Gated]:
    limits = LimitsConfig(**getattr(request, "param", {}))
    clock = FakeClock()
    tokens = TokenRegistry(OAuthConfig())
    limiter = RealmLimiter(limits, clock=clock)
    stats = SandboxStats()
    chaos = Chaos(FaultConfig())
    data = Starlette(
        routes=[
            Route("/company/{realm}/query", query),
            Route("/company/{realm}/held", held),
            Route("/company/{realm}/batch", batch, methods=["POST"]),
        ]
    )
    gate = V3Gate(data, tokens=tokens, limiter=limiter, chaos=chaos, stats=stats)
    token = {realm: tokens.mint(realm)["access_token"] for realm in (REALM, OTHER_REALM)}
    swappable, base = server
    swappable.app = Starlette(routes=[Mount("/v3", app=gate)])
    with httpx.Client(base_url=base) as http:
        yield Gated(http, base, limiter, stats, chaos, clock, token, tokens)


# --- the limiter alone --------------------------------------------------------------------------


def test_moving_window_frees_budget_as_requests_age() -> None:
    clock = FakeClock()
    limiter = RealmLimiter(LimitsConfig(per_second=1000, per_minute=3), clock=clock)
    for _ in range(3):
        assert limiter.try_acquire(REALM)
        limiter.release(REALM)
        clock.advance(20)
    # t=60: the first request (t=0) has just left the window, the other two have not.
    assert limiter.acquire(REALM) == "ok"
    limiter.release(REALM)
    assert limiter.acquire(REALM) == "per_minute"
    clock.advance(20)
    assert limiter.acquire(REALM) == "ok"


def test_refused_requests_consume_no_budget() -> None:
    clock = FakeClock()
    limiter = RealmLimiter(LimitsConfig(per_second=2, per_minute=100), clock=clock)
    for _ in range(2):
        assert limiter.try_acquire(REALM)
        limiter.release(REALM)
    for _ in range(50):
        assert not limiter.try_acquire(REALM)
        clock.advance(0.001)
    clock.advance(1)
    assert limiter.snapshot()["realms"][REALM]["last_minute"] == 2


def test_a_batch_counts_once_in_every_window() -> None:
    clock = FakeClock()
    limiter = RealmLimiter(LimitsConfig(), clock=clock)
    assert limiter.acquire(REALM, is_batch=True) == "ok"
    limiter.release(REALM)
    usage = limiter.snapshot()["realms"][REALM]
    assert (usage["last_second"], usage["last_minute"], usage["batches_last_minute"]) == (1, 1, 1)
    # Nine more requests fit in the same second: the batch took one of the ten.
    for _ in range(9):
        assert limiter.acquire(REALM) == "ok"
        limiter.release(REALM)
    assert limiter.acquire(REALM) == "per_second"


def test_batch_budgets_per_app_and_per_realm() -> None:
    clock = FakeClock()
    limiter = RealmLimiter(LimitsConfig(per_second=1000), clock=clock)
    apps = ["app-a", "app-b", "app-c", "app-d"]
    for app in apps[:3]:
        for _ in range(40):
            assert limiter.acquire(REALM, app_id=app, is_batch=True) == "ok"
            limiter.release(REALM, app_id=app)
        assert limiter.acquire(REALM, app_id=app, is_batch=True) == "batch_per_minute"
    # 120 batches in the realm this minute: a fourth app has batch budget of its own but the realm has none.
    assert limiter.acquire(REALM, app_id="app-d", is_batch=True) == "realm_batch_per_minute"
    assert limiter.acquire(REALM, app_id="app-d") == "ok"
    limiter.release(REALM, app_id="app-d")
    usage = limiter.snapshot()["realms"][REALM]
    assert usage["batches_last_minute"] == 120
    assert usage["apps"]["app-a"]["batches_last_minute"] == 40
    clock.advance(60)
    assert limiter.acquire(REALM, app_id="app-d", is_batch=True) == "ok"


def test_disabled_limiter_admits_everything_and_reset_forgets_usage() -> None:
    clock = FakeClock()
    limiter = RealmLimiter(LimitsConfig(per_second=1), clock=clock)
    assert limiter.try_acquire(REALM)
    limiter.release(REALM)
    assert not limiter.try_acquire(REALM)
    limiter.reset(REALM)
    assert limiter.try_acquire(REALM)
    limiter.release(REALM)
    limiter.enabled = False
    assert all(limiter.try_acquire(REALM) for _ in range(20))


def test_configure_rejects_nonsense() -> None:
    limiter = RealmLimiter(LimitsConfig())
    with pytest.raises(ValueError, match="per_second"):
        limiter.configure(per_second=0)
    with pytest.raises(ValueError, match="unknown limit"):
        limiter.configure(per_hour=5)
    limiter.configure(per_second=3, enabled=False)
    assert limiter.snapshot()["limits"]["per_second"] == 3


# --- over HTTP ------------------------------------------------------------------------------------


def test_eleventh_request_in_a_second_gets_429_qbo_shape(gated: Gated) -> None:
    assert [gated.query() for _ in range(10)] == [200] * 10
    refused = gated.http.get(f"/v3/company/{REALM}/query", params={"query": "x"}, headers=gated.auth(REALM))
    assert refused.status_code == 429
    error = refused.json()["Fault"]["Error"][0]
    assert error["code"] == "3001"
    assert "ThrottleExceeded" in error["Message"]
    assert "retry-after" not in refused.headers
    # Another realm has its own budget.
    assert gated.query(OTHER_REALM) == 200
    gated.clock.advance(1)
    assert gated.query() == 200
    stats = gated.stats.snapshot(REALM)
    assert stats["throttled"] == 1
    assert stats["requests"]["query"] == {"200": 11, "429": 1}


@pytest.mark.parametrize("gated", [{"per_second": 1000}], indirect=True)
def test_per_minute_limit_over_a_moving_window(gated: Gated) -> None:
    for _ in range(5):
        assert [gated.query() for _ in range(100)] == [200] * 100
        gated.clock.advance(10)
    # t=50: 500 requests in the last minute.
    assert gated.query() == 429
    gated.clock.advance(10.5)  # t=60.5: the first hundred (t=0) are out of the window
    assert [gated.query() for _ in range(100)] == [200] * 100
    assert gated.query() == 429
    assert gated.stats.snapshot(REALM)["throttled"] == 2


def test_a_query_right_after_a_full_batch_is_admitted(gated: Gated) -> None:
    assert gated.batch(20).status_code == 200
    gated.clock.advance(0.3)
    assert gated.query() == 200
    # The batch and the query are two requests of the ten this second allows.
    assert [gated.query() for _ in range(8)] == [200] * 8
    assert gated.query() == 429
    assert gated.limiter.snapshot()["realms"][REALM]["last_minute"] == 10


def test_the_41st_batch_in_a_minute_is_refused(gated: Gated) -> None:
    for _ in range(40):
        gated.clock.advance(1)
        assert gated.batch(30).status_code == 200
    gated.clock.advance(1)
    refused = gated.batch(1)
    assert refused.status_code == 429
    assert refused.json()["Fault"]["Error"][0]["code"] == "3001"
    assert gated.query() == 200  # plain requests still have budget
    assert gated.batch(1, token=gated.other_app_token()).status_code == 200  # another app has its own 40
    stats = gated.stats.snapshot(REALM)
    assert stats["requests"]["batch"] == {"200": 41, "429": 1}
    assert stats["throttled_by"] == {"batch_per_minute": 1}
    gated.clock.advance(20)  # the first batch (t=1) is now a minute old
    assert gated.batch(1).status_code == 200


def test_per_second_budget_is_per_app_and_the_minute_is_shared(gated: Gated) -> None:
    gated.limiter.configure(per_minute=15)
    other = gated.other_app_token()
    assert [gated.query() for _ in range(10)] == [200] * 10
    assert gated.query() == 429
    assert [gated.query(token=other) for _ in range(5)] == [200] * 5
    assert gated.query(token=other) == 429  # 15 requests in the realm's minute
    assert gated.stats.snapshot(REALM)["throttled_by"] == {"per_minute": 1, "per_second": 1}
    apps = gated.limiter.snapshot()["realms"][REALM]["apps"]
    assert apps[OTHER_APP]["last_second"] == 5


@pytest.mark.parametrize("gated", [{"per_second": 1000, "concurrent": 10}], indirect=True)
async def test_at_most_ten_in_flight(gated: Gated) -> None:
    RELEASE_HELD.clear()
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=gated.base, timeout=60, limits=limits) as client:
        url = f"/v3/company/{REALM}/held"
        requests = [asyncio.ensure_future(client.get(url, headers=gated.auth(REALM))) for _ in range(14)]
        # Ten are admitted and held; the other four are refused at once (polled, with a generous bound).
        for _ in range(3000):
            if gated.stats.snapshot(REALM)["throttled"] >= 4:
                break
            await asyncio.sleep(0.01)
        RELEASE_HELD.set()
        responses = await asyncio.gather(*requests)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 4
    stats = gated.stats.snapshot(REALM)
    assert stats["max_in_flight"] == 10
    assert stats["in_flight"] == 0
    assert stats["throttled"] == 4


def test_retry_after_is_sent_when_configured() -> None:
    tokens = TokenRegistry(OAuthConfig())
    data = Starlette(routes=[Route("/company/{realm}/query", query)])
    limiter = RealmLimiter(LimitsConfig(per_second=1), clock=FakeClock())
    app = V3Gate(
        data, tokens=tokens, limiter=limiter, chaos=Chaos(FaultConfig()), stats=SandboxStats(), retry_after_seconds=60
    )
    access = tokens.mint(REALM)["access_token"]
    with serve(Starlette(routes=[Mount("/v3", app=app)])) as base:
        headers = {"Authorization": f"Bearer {access}"}
        assert httpx.get(f"{base}/v3/company/{REALM}/query", headers=headers).status_code == 200
        refused = httpx.get(f"{base}/v3/company/{REALM}/query", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
