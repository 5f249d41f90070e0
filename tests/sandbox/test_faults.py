"""Injected faults at the /v3 gate over real HTTP: 5xx kinds, timeouts, lost responses, revoked tokens, seeds."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from oodaloo.sandbox.chaos import Chaos
from oodaloo.sandbox.config import FaultConfig, LimitsConfig, OAuthConfig
from oodaloo.sandbox.gate import V3Gate, endpoint_label
from oodaloo.sandbox.limits import RealmLimiter
from oodaloo.sandbox.oauth import TokenRegistry
from oodaloo.sandbox.stats import SandboxStats
from tests.sandbox.conftest import RunningSandbox
from tests.support.servers import Swappable

REALM = "4620816365000001"


@dataclass
class VendorBook:
    """A minimal data API: create and read vendors, so a lost write can be looked for afterwards."""

    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def create(self, request: Request) -> JSONResponse:
        vendor = {**(await request.json()), "Id": str(next(self.ids))}
        self.vendors[vendor["Id"]] = vendor
        return JSONResponse({"Vendor": vendor})

    async def read(self, request: Request) -> JSONResponse:
        vendor = self.vendors.get(request.path_params["id"])
        if vendor is None:
            return JSONResponse({"Fault": {"Error": [{"Message": "Object Not Found", "code": "610"}]}}, 400)
        return JSONResponse({"Vendor": vendor})

    async def query(self, _request: Request) -> JSONResponse:
        return JSONResponse({"QueryResponse": {"Vendor": list(self.vendors.values())}})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/company/{realm}/vendor", self.create, methods=["POST"]),
                Route("/company/{realm}/vendor/{id}", self.read),
                Route("/company/{realm}/query", self.query),
            ]
        )


@dataclass
class Faulty:
    http: httpx.Client
    chaos: Chaos
    stats: SandboxStats
    tokens: TokenRegistry
    book: VendorBook
    headers: dict[str, str]

    def create_vendor(self, name: str) -> httpx.Response:
        return self.http.post(f"/v3/company/{REALM}/vendor", json={"DisplayName": name}, headers=self.headers)

    def query(self) -> httpx.Response:
        return self.http.get(
            f"/v3/company/{REALM}/query", params={"query": "select * from Vendor"}, headers=self.headers
        )


@pytest.fixture
def faulty(server: tuple[Swappable, str]) -> Iterator[Faulty]:
    tokens = TokenRegistry(OAuthConfig())
    chaos = Chaos(FaultConfig(timeout_seconds=0.05))
    stats = SandboxStats()
    book = VendorBook()
    gate = V3Gate(
        book.app(), tokens=tokens, limiter=RealmLimiter(LimitsConfig(enabled=False)), chaos=chaos, stats=stats
    )
    headers = {"Authorization": f"Bearer {tokens.mint(REALM)['access_token']}", "Accept": "application/json"}
    swappable, base = server
    swappable.app = Starlette(routes=[Mount("/v3", app=gate)])
    with httpx.Client(base_url=base) as http:
        yield Faulty(http, chaos, stats, tokens, book, headers)


# --- decisions ----------------------------------------------------------------------------------


def fault_sequence(chaos: Chaos, realm_id: str, n: int, *, is_write: bool = False) -> list[str | None]:
    return [chaos.decide(realm_id, is_write=is_write).fault for _ in range(n)]


def test_same_seed_same_faults_different_seed_different_faults() -> None:
    settings = {"error_rate": 0.5, "kinds": {"500": 1.0, "503": 1.0, "timeout": 1.0}}
    first = fault_sequence(Chaos(FaultConfig(seed=7, **settings)), REALM, 60)  # type: ignore[arg-type]
    again = fault_sequence(Chaos(FaultConfig(seed=7, **settings)), REALM, 60)  # type: ignore[arg-type]
    other = fault_sequence(Chaos(FaultConfig(seed=8, **settings)), REALM, 60)  # type: ignore[arg-type]
    assert first == again
    assert first != other
    assert {"500", "503", "timeout", None} == set(first)


def test_each_realm_has_its_own_sequence() -> None:
    settings = FaultConfig(seed=3, error_rate=0.5)
    alone = fault_sequence(Chaos(settings), REALM, 30)
    interleaved = Chaos(FaultConfig(seed=3, error_rate=0.5))
    mixed: list[str | None] = []
    for _ in range(30):
        mixed.append(interleaved.decide(REALM, is_write=False).fault)
        interleaved.decide("another-realm", is_write=False)
    assert mixed == alone


def test_latency_stays_within_jitter() -> None:
    chaos = Chaos(FaultConfig(latency_ms=100, jitter_ms=20))
    latencies = [chaos.decide(REALM, is_write=False).latency_seconds for _ in range(200)]
    assert all(0.08 <= s <= 0.12 for s in latencies)
    assert len(set(latencies)) > 100


def test_lost_response_is_drawn_only_for_writes() -> None:
    chaos = Chaos(FaultConfig(error_rate=1.0, kinds={"lost_response": 1.0}))
    assert set(fault_sequence(chaos, REALM, 20)) == {None}
    assert set(fault_sequence(chaos, REALM, 20, is_write=True)) == {"lost_response"}


def test_injections_take_precedence_in_order() -> None:
    chaos = Chaos(FaultConfig())
    chaos.inject_next(REALM, "503", count=2)
    chaos.inject_next(REALM, "500")
    assert fault_sequence(chaos, REALM, 4) == ["503", "503", "500", None]
    assert chaos.snapshot()["pending_injections"] == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"kinds": {"418": 1.0}}, "unknown fault kind"),
        ({"kinds": {"500": -1}}, "weight"),
        ({"latency_ms": "slow"}, "latency_ms"),
        ({"colour": "red"}, "unknown fault setting"),
    ],
)
def test_configure_rejects_invalid_settings_and_keeps_the_old_ones(changes: dict[str, Any], message: str) -> None:
    chaos = Chaos(FaultConfig(error_rate=0.1))
    with pytest.raises(ValueError, match=message):
        chaos.configure(**changes)
    assert chaos.snapshot()["error_rate"] == 0.1


def test_endpoint_labels() -> None:
    assert endpoint_label(["query"]) == "query"
    assert endpoint_label(["Bill", "148"]) == "bill"
    assert endpoint_label(["invoice", "12", "send"]) == "invoice/send"
    assert endpoint_label(["invoice", "12", "pdf"]) == "invoice/pdf"
    assert endpoint_label(["reports", "ProfitAndLoss"]) == "reports"
    assert endpoint_label(["companyinfo", REALM]) == "companyinfo"


# --- over HTTP ------------------------------------------------------------------------------------


def test_500_is_a_system_fault(faulty: Faulty) -> None:
    faulty.chaos.inject_next(REALM, "500")
    response = faulty.query()
    assert response.status_code == 500
    fault = response.json()["Fault"]
    assert fault["type"] == "SystemFault"
    assert fault["Error"][0]["code"] == "10000"
    assert faulty.query().status_code == 200


def test_502_is_not_json_and_503_is_a_json_fault(faulty: Faulty) -> None:
    faulty.chaos.inject_next(REALM, "502")
    faulty.chaos.inject_next(REALM, "503", count=2)
    bad_gateway = faulty.query()
    assert bad_gateway.status_code == 502
    assert bad_gateway.headers["content-type"].startswith("text/html")
    for _ in range(2):
        unavailable = faulty.query()
        assert unavailable.status_code == 503
        assert unavailable.json()["Fault"]["Error"][0]["code"]
    assert faulty.query().status_code == 200
    assert faulty.stats.snapshot(REALM)["requests"]["query"] == {"200": 1, "502": 1, "503": 2}


def test_timeout_holds_the_request_then_504(faulty: Faulty) -> None:
    faulty.chaos.configure(timeout_seconds=0.3)
    faulty.chaos.inject_next(REALM, "timeout")
    started = time.monotonic()
    response = faulty.create_vendor("Never Written")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 504
    assert faulty.book.vendors == {}


def test_lost_response_commits_the_write_but_answers_502(faulty: Faulty) -> None:
    faulty.chaos.inject_next(REALM, "lost_response")
    response = faulty.create_vendor("Northwind Paper Co")
    assert response.status_code == 502
    assert "Northwind" not in response.text
    # The client cannot know, but the vendor exists: a re-read finds it.
    listed = faulty.query().json()["QueryResponse"]["Vendor"]
    assert [v["DisplayName"] for v in listed] == ["Northwind Paper Co"]
    assert faulty.http.get(f"/v3/company/{REALM}/vendor/{listed[0]['Id']}", headers=faulty.headers).status_code == 200


def test_revoke_token_kills_the_realms_tokens(faulty: Faulty) -> None:
    faulty.chaos.inject_next(REALM, "revoke_token")
    response = faulty.query()
    assert response.status_code == 401
    assert response.json()["fault"]["type"] == "AUTHENTICATION"
    assert faulty.query().status_code == 401
    fresh = faulty.tokens.mint(REALM)["access_token"]
    assert (
        faulty.http.get(f"/v3/company/{REALM}/query", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    )


def test_random_faults_over_http_follow_the_seed(faulty: Faulty) -> None:
    faulty.chaos.configure(error_rate=0.4, kinds={"500": 1.0, "503": 1.0}, seed=11)
    first = [faulty.query().status_code for _ in range(25)]
    faulty.chaos.reseed()
    again = [faulty.query().status_code for _ in range(25)]
    assert first == again
    assert {200, 500, 503} == set(first)


def test_latency_is_added_to_answers(faulty: Faulty) -> None:
    faulty.chaos.configure(latency_ms=150)
    started = time.monotonic()
    assert faulty.query().status_code == 200
    assert time.monotonic() - started >= 0.15


# --- the gate's own answers -----------------------------------------------------------------------


def test_auth_failures_use_the_gateway_shape(faulty: Faulty) -> None:
    url = f"/v3/company/{REALM}/query"
    missing = faulty.http.get(url)
    assert missing.status_code == 401
    assert missing.json()["fault"]["error"][0]["code"] == "3200"
    malformed = faulty.http.get(url, headers={"Authorization": "Bearer abc"})
    assert malformed.json()["fault"]["error"][0]["detail"].startswith("Malformed bearer token")
    unknown = faulty.http.get(url, headers={"Authorization": "Bearer " + "x" * 40})
    assert unknown.status_code == 401
    assert "x" * 40 not in unknown.text
    assert faulty.stats.snapshot(REALM)["requests"]["query"] == {"401": 3}
    for response in (missing, malformed, unknown):
        assert response.headers["intuit_tid"]


def test_paths_outside_company_get_a_json_404(faulty: Faulty) -> None:
    response = faulty.http.get("/v3/nothing-here", headers=faulty.headers)
    assert response.status_code == 404
    assert response.json()["Fault"]["Error"][0]["code"]


# --- on the whole sandbox -------------------------------------------------------------------------


def test_lost_response_on_the_real_store_commits_the_vendor(sandbox: RunningSandbox) -> None:
    admin, qbo = sandbox.admin(), sandbox.client()
    admin.post("/_sandbox/faults/inject", json={"kind": "lost_response"})
    writes_before = sandbox.state.stats.snapshot(sandbox.realm_id)["writes"]
    lost = qbo.post("/vendor", json={"DisplayName": "Lost Response Lumber"})
    assert lost.status_code == 502
    found = qbo.get("/query", params={"query": "select * from Vendor where DisplayName = 'Lost Response Lumber'"})
    assert [v["DisplayName"] for v in found.json()["QueryResponse"]["Vendor"]] == ["Lost Response Lumber"]
    assert sandbox.state.stats.snapshot(sandbox.realm_id)["writes"] == writes_before + 1


def test_revoke_token_on_the_whole_sandbox(sandbox: RunningSandbox) -> None:
    admin, qbo = sandbox.admin(), sandbox.client()
    admin.post("/_sandbox/faults/inject", json={"kind": "revoke_token"})
    assert qbo.get("/preferences").status_code == 401
    assert qbo.get("/preferences").json()["fault"]["error"][0]["code"] == "3200"
    assert sandbox.client().get("/preferences").status_code == 200


def test_timeout_after_commit_commits_the_write_then_lets_the_client_time_out(sandbox: RunningSandbox) -> None:
    admin, qbo = sandbox.admin(), sandbox.client()
    # The sandbox holds the answer well past the client's read timeout, so the client always gives up first; connecting
    # gets the usual generous timeout, so a loaded machine cannot turn this into a connect failure.
    admin.post("/_sandbox/faults", json={"timeout_seconds": 4.0}).raise_for_status()
    try:
        admin.post("/_sandbox/faults/inject", json={"kind": "timeout_after_commit"}).raise_for_status()
        with pytest.raises(httpx.ReadTimeout):
            qbo.post("/vendor", json={"DisplayName": "Slow Answer Supplies"}, timeout=httpx.Timeout(30.0, read=1.0))
        # The write commits before the hold; on a slow machine it may still be running when the client gives up.
        assert _eventually_listed(qbo, "Slow Answer Supplies")
    finally:
        admin.post("/_sandbox/faults", json={"timeout_seconds": 30.0}).raise_for_status()


def _eventually_listed(qbo: httpx.Client, display_name: str, within_seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + within_seconds
    sql = f"select * from Vendor where DisplayName = '{display_name}'"
    while time.monotonic() < deadline:
        vendors = qbo.get("/query", params={"query": sql}).json()["QueryResponse"].get("Vendor", [])
        if [v["DisplayName"] for v in vendors] == [display_name]:
            return True
        time.sleep(0.05)
    return False
