"""The ``/_sandbox`` control paths on the whole sandbox app: faults, stats, tokens, limits and webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oodaloo.sandbox.config import DEFAULT_VERIFIER_TOKEN, LimitsConfig
from tests.sandbox.conftest import RunningSandbox
from tests.support.servers import serve


@pytest.fixture
def admin(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """An admin client; afterwards faults, limits, stats and webhooks are back to how the module started."""
    client = sandbox.admin()
    yield client
    state = sandbox.state
    state.chaos.configure(latency_ms=0.0, jitter_ms=0.0, error_rate=0.0, seed=0)
    state.chaos.clear_injections()
    state.limiter.configure(**vars(LimitsConfig(enabled=False)))
    state.limiter.reset()
    for registration in state.notifier.registrations():
        state.notifier.unregister(registration.url)
    state.stats.reset()


def company_info(sandbox: RunningSandbox, token: str) -> httpx.Response:
    realm = sandbox.realm_id
    return httpx.get(
        f"{sandbox.base_url}/v3/company/{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


# --- faults -------------------------------------------------------------------------------------


def test_fault_settings_round_trip_and_validation(admin: httpx.Client) -> None:
    current = admin.get("/_sandbox/faults").json()
    assert current["error_rate"] == 0.0
    changed = admin.post("/_sandbox/faults", json={**current, "latency_ms": 5, "error_rate": 0.25}).json()
    assert (changed["latency_ms"], changed["error_rate"]) == (5, 0.25)
    assert changed["kinds"] == current["kinds"]

    rejected = admin.post("/_sandbox/faults", json={"error_rate": 2})
    assert rejected.status_code == 422
    assert "error_rate" in rejected.json()["error"]
    assert admin.post("/_sandbox/faults", content=b"not json").status_code == 422
    assert admin.get("/_sandbox/faults").json()["error_rate"] == 0.25


def test_injected_faults_hit_the_next_requests(sandbox: RunningSandbox, admin: httpx.Client) -> None:
    response = admin.post("/_sandbox/faults/inject", json={"kind": "503", "count": 2})
    assert response.json()["pending_injections"] == {sandbox.realm_id: ["503", "503"]}
    qbo = sandbox.client()
    assert [qbo.get("/preferences").status_code for _ in range(3)] == [503, 503, 200]

    bad_kind = admin.post("/_sandbox/faults/inject", json={"kind": "teapot"})
    assert bad_kind.status_code == 422
    assert "unknown fault kind" in bad_kind.json()["error"]
    assert admin.post("/_sandbox/faults/inject", json={"kind": "500", "realm_id": "1"}).status_code == 404


# --- stats --------------------------------------------------------------------------------------


def test_stats_per_realm_and_reset(sandbox: RunningSandbox, admin: httpx.Client) -> None:
    qbo = sandbox.client()
    qbo.get("/preferences")
    httpx.get(f"{sandbox.base_url}/v3/company/{sandbox.realm_id}/preferences")  # no token: 401
    stats = admin.get("/_sandbox/stats", params={"realm_id": sandbox.realm_id}).json()
    assert stats["requests"]["preferences"] == {"200": 1, "401": 1}
    assert stats["max_in_flight"] == 1
    assert sandbox.realm_id in admin.get("/_sandbox/stats").json()
    assert admin.post("/_sandbox/stats/reset", json={}).json() == {"reset": "all"}
    assert admin.get("/_sandbox/stats", params={"realm_id": sandbox.realm_id}).json()["requests_total"] == 0


# --- tokens -------------------------------------------------------------------------------------


def test_minted_tokens_can_be_expired_refreshed_and_revoked(sandbox: RunningSandbox, admin: httpx.Client) -> None:
    minted = admin.post("/_sandbox/tokens", json={"realm_id": sandbox.realm_id}).json()
    assert minted["token_type"] == "bearer"
    assert company_info(sandbox, minted["access_token"]).status_code == 200

    expired = admin.post("/_sandbox/tokens/expire", json={"realm_id": sandbox.realm_id}).json()
    assert expired["expired"] >= 1
    answer = company_info(sandbox, minted["access_token"])
    assert answer.status_code == 401
    assert answer.json()["fault"]["error"][0]["detail"].startswith("Token expired")

    config = sandbox.state.config.oauth
    refreshed = httpx.post(
        f"{sandbox.base_url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": minted["refresh_token"]},
        auth=(config.client_id, config.client_secret),
    ).json()
    assert company_info(sandbox, refreshed["access_token"]).status_code == 200
    assert admin.get("/_sandbox/tokens").json()["refresh_calls"][sandbox.realm_id] >= 1

    admin.post("/_sandbox/tokens/revoke", json={"realm_id": sandbox.realm_id})
    assert company_info(sandbox, refreshed["access_token"]).status_code == 401


def test_tokens_for_unknown_realms_are_refused(admin: httpx.Client) -> None:
    response = admin.post("/_sandbox/tokens", json={"realm_id": "123"})
    assert response.status_code == 404
    assert "123" in response.json()["error"]


# --- limits -------------------------------------------------------------------------------------


def test_limits_can_be_switched_on_at_run_time(sandbox: RunningSandbox, admin: httpx.Client) -> None:
    assert admin.get("/_sandbox/limits").json()["limits"]["enabled"] is False
    switched = admin.post("/_sandbox/limits", json={"enabled": True, "per_second": 3, "reset": True}).json()
    assert switched["limits"]["per_second"] == 3
    qbo = sandbox.client()
    assert [qbo.get("/preferences").status_code for _ in range(4)] == [200, 200, 200, 429]
    stats = admin.get("/_sandbox/stats", params={"realm_id": sandbox.realm_id}).json()
    assert (stats["throttled"], stats["throttled_by"]) == (1, {"per_second": 1})
    windows = admin.get("/_sandbox/limits").json()["realms"][sandbox.realm_id]
    assert (windows["last_second"], windows["last_minute"], windows["batches_last_minute"]) == (3, 3, 0)
    assert [app["last_second"] for app in windows["apps"].values()] == [3]  # one app: the sandbox's client

    rejected = admin.post("/_sandbox/limits", json={"per_second": -1})
    assert rejected.status_code == 422
    assert "per_second" in rejected.json()["error"]


# --- webhooks -----------------------------------------------------------------------------------


@dataclass
class Receiver:
    received: list[tuple[bytes, str]] = field(default_factory=list)
    fail_first: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            if self.fail_first:
                self.fail_first = False
                return Response(status_code=500)
            self.received.append((body, request.headers["intuit-signature"]))
        return Response(status_code=200)


def test_writes_are_delivered_as_signed_webhooks_with_a_retry(sandbox: RunningSandbox, admin: httpx.Client) -> None:
    receiver = Receiver()
    with serve(Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])) as hook_base:
        url = hook_base + "/hook"
        assert admin.post("/_sandbox/webhooks", json={"url": url}).status_code == 201
        admin.post("/_sandbox/webhooks/settings", json={"window_seconds": 0.05, "retry_scale": 0.001})
        vendor = sandbox.client().post("/vendor", json={"DisplayName": "Webhook Test Supplies"}).json()["Vendor"]
        # The sandbox records an attempt once the receiver has answered it, so wait for the record.
        deadline = time.monotonic() + 30  # a bound, not an expectation: the loop ends as soon as it is delivered
        while time.monotonic() < deadline:
            if any(d["delivered"] for d in admin.get("/_sandbox/webhooks").json()["recent"]):
                break
            time.sleep(0.02)
    body, sent_signature = receiver.received[0]
    expected = base64.b64encode(hmac.new(DEFAULT_VERIFIER_TOKEN.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(sent_signature, expected)
    notification = json.loads(body)["eventNotifications"][0]
    assert notification["realmId"] == sandbox.realm_id
    entity = notification["dataChangeEvent"]["entities"][0]
    assert (entity["name"], entity["id"], entity["operation"]) == ("Vendor", vendor["Id"], "Create")
    assert entity["lastUpdated"].endswith(".000Z")

    listing = admin.get("/_sandbox/webhooks").json()
    assert listing["registrations"] == [{"url": url, "format": "legacy"}]
    assert [d["delivered"] for d in listing["recent"]][-2:] == [False, True]
    stats = admin.get("/_sandbox/stats", params={"realm_id": sandbox.realm_id}).json()
    assert (stats["webhooks_sent"], stats["webhooks_failed"]) == (1, 1)

    assert admin.request("DELETE", "/_sandbox/webhooks", json={"url": url}).json() == {"removed": url}
    assert admin.request("DELETE", "/_sandbox/webhooks", params={"url": url}).status_code == 404


def test_webhook_registration_is_validated(admin: httpx.Client) -> None:
    bad_format = admin.post("/_sandbox/webhooks", json={"url": "http://127.0.0.1:1/x", "format": "xml"})
    assert bad_format.status_code == 422
    assert "format" in bad_format.json()["error"]
    assert admin.post("/_sandbox/webhooks", json={"url": "ftp://x"}).status_code == 422
    assert admin.post("/_sandbox/webhooks", json={}).status_code == 422
    cloud = admin.post("/_sandbox/webhooks", json={"url": "http://127.0.0.1:1/x", "format": "cloudevents"})
    assert cloud.json() == {"url": "http://127.0.0.1:1/x", "format": "cloudevents"}


def test_admin_paths_answer_json_and_405_for_wrong_methods(admin: httpx.Client) -> None:
    assert admin.put("/_sandbox/faults", json={}).status_code == 405
    assert admin.get("/_sandbox/tokens/expire").status_code == 405
    assert admin.get("/_sandbox/limits").headers["content-type"].startswith("application/json")
