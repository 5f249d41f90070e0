"""A business's sync status and "sync now" over real HTTP, with the app beside a sandbox: the status before any
sync, after one (last success, lag, calls this month) and after a failed one (its error, no secrets); sync now answers
202, runs in the background, and a second request within the minute gets 429 with Retry-After; roles are enforced."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from oodaloo.domains.qbo.mirror_models import SyncKind
from oodaloo.settings import Settings
from tests.domains.qbo.bulk_support import Fleet, fleet
from tests.support.qbo import add_member

# Generous: a background full sync of a demo company takes a second or two, more on a busy machine.
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.1


@pytest.fixture
def businesses(settings: Settings, tmp_path: Path, worker_id: str) -> Iterator[Fleet]:
    with fleet(settings, tmp_path, f"oodaloo_sync_routes_{worker_id}") as found:
        yield found


def status_of(client: httpx.Client, business_id: uuid.UUID) -> dict[str, Any]:
    response = client.get(f"/api/businesses/{business_id}/sync")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for(client: httpx.Client, business_id: uuid.UUID, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        body = status_of(client, business_id)
        if done(body):
            return body
        assert time.monotonic() < deadline, f"the background sync did not finish: {body}"
        time.sleep(POLL_SECONDS)


def test_status_before_any_sync_says_so(businesses: Fleet) -> None:
    business_id = businesses.add_business(timezone="Pacific/Auckland")

    body = status_of(businesses.owner.client, business_id)

    assert body["last_success"] is None
    assert body["lag_seconds"] is None
    assert body["last_error"] is None
    assert body["running"] is None
    calls = body["calls_this_month"]
    assert (calls["sync"], calls["actions"], calls["total"]) == (0, 0, 0)
    assert calls["timezone"] == "Pacific/Auckland"
    # The month is the business's own: it starts at local midnight on the 1st.
    since = datetime.fromisoformat(calls["since"])
    assert since.tzinfo is not None
    local = since.astimezone(ZoneInfo("Pacific/Auckland"))
    assert (local.day, local.hour, local.minute) == (1, 0, 0)
    assert calls["month"] == local.strftime("%Y-%m")


def test_sync_now_runs_in_the_background_then_the_status_shows_it_and_a_repeat_is_throttled(
    businesses: Fleet,
) -> None:
    business_id = businesses.add_business()
    owner = businesses.owner.client
    before = datetime.now(UTC)

    started = owner.post(f"/api/businesses/{business_id}/sync")

    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    body = wait_for(owner, business_id, lambda found: found["last_success"] is not None)
    success = body["last_success"]
    assert success["kind"] == SyncKind.FULL.value  # never synced: the incremental sync starts with a full one
    assert datetime.fromisoformat(success["finished_at"]) >= before
    assert success["calls"] > 0
    assert success["objects"] > 0
    assert body["lag_seconds"] >= 0
    assert body["last_error"] is None
    assert body["running"] is None
    if datetime.fromisoformat(success["started_at"]) >= datetime.fromisoformat(body["calls_this_month"]["since"]):
        assert body["calls_this_month"]["sync"] == success["calls"]
    businesses.harness(business_id).assert_mirror_equals_sandbox()

    again = owner.post(f"/api/businesses/{business_id}/sync")

    assert again.status_code == 429, again.text
    assert again.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    assert status_of(owner, business_id)["last_success"]["run_id"] == success["run_id"]  # no second sync ran


def test_a_failed_sync_shows_its_error_without_secrets(businesses: Fleet) -> None:
    business_id = businesses.add_business()
    owner = businesses.owner.client
    businesses.revoke_tokens(business_id)

    assert owner.post(f"/api/businesses/{business_id}/sync").status_code == 202
    body = wait_for(owner, business_id, lambda found: found["last_error"] is not None)

    error = body["last_error"]
    assert "reconnect" in error["message"].lower()
    assert "Bearer" not in error["message"]
    assert datetime.fromisoformat(error["at"]).tzinfo is not None
    assert body["last_success"] is None
    assert body["lag_seconds"] is None
    # The connection now needs reconnecting: sync now says so instead of starting a sync that cannot work.
    refused = owner.post(f"/api/businesses/{business_id}/sync")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "qbo_not_connected"


def test_any_member_reads_the_status_but_only_owners_and_advisors_sync(businesses: Fleet) -> None:
    business_id = businesses.add_business()
    viewer = businesses.browsers.sign_up("viewer")
    add_member(businesses.owner, str(business_id), viewer, "viewer")
    stranger = businesses.browsers.sign_up("stranger")

    assert viewer.get(f"/api/businesses/{business_id}/sync").status_code == 200
    refused = viewer.post(f"/api/businesses/{business_id}/sync")
    assert refused.status_code == 403, refused.text
    assert stranger.get(f"/api/businesses/{business_id}/sync").status_code == 404
    assert stranger.post(f"/api/businesses/{business_id}/sync").status_code == 404
    with httpx.Client(base_url=businesses.served.app) as anonymous:
        assert anonymous.get(f"/api/businesses/{business_id}/sync").status_code == 401


def test_sync_now_refuses_a_business_that_is_not_connected(businesses: Fleet) -> None:
    business_id = businesses.add_business(connected=False)

    refused = businesses.owner.post(f"/api/businesses/{business_id}/sync")

    assert refused.status_code == 409, refused.text
    assert "not connected" in refused.json()["error"]["message"]


def test_a_sync_in_progress_shows_in_the_status_until_it_finishes(businesses: Fleet) -> None:
    business_id = businesses.add_business()
    owner = businesses.owner.client
    # Each QBO answer takes half a second: the sync (a few rounds of pages) runs for seconds.
    httpx.post(f"{businesses.served.sandbox}/_sandbox/faults", json={"latency_ms": 500}).raise_for_status()

    assert owner.post(f"/api/businesses/{business_id}/sync").status_code == 202
    running = wait_for(owner, business_id, lambda found: found["running"] is not None)["running"]

    assert running["kind"] == SyncKind.FULL.value
    assert running["finished_at"] is None
    done = wait_for(owner, business_id, lambda found: found["running"] is None)
    assert done["last_success"]["run_id"] == running["run_id"]
