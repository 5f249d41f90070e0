"""The backtest over real HTTP: the app served beside a standalone sandbox, a demo company connected and synced into
the mirror. Any member reads it (the figures ``oodaloo backtest --json`` prints); another tenant gets 404; a bad
horizon is refused naming it; books not synced yet or too short to replay get a 409 saying why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from oodaloo.cli import app
from oodaloo.settings import Settings
from tests.domains.qbo.mirror_support import Harness, Realm
from tests.support.clock import Instant, at
from tests.support.qbo import (
    DEFAULT_REDIRECT_URI,
    Browser,
    Browsers,
    Served,
    add_member,
    connect,
    new_business,
    open_browsers,
    served_beside_a_sandbox,
)

# Mid-morning in the business's zone: the business's date cannot change while the module runs.
MORNING = Instant("America/New_York", time(10, 0))
FIELDS = {"as_of_weeks", "horizon_weeks", "ours", "naive", "currency", "first_as_of", "last_as_of", "collected"}


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with at(MORNING), served_beside_a_sandbox(settings, redis_url=None) as (served, _app):
        yield served


@pytest.fixture(scope="module")
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@dataclass
class Company:
    owner: Browser
    business_id: str

    def backtest(self, as_: Browser | None = None, **query: Any) -> httpx.Response:
        return (as_ or self.owner).get(f"/api/businesses/{self.business_id}/runway/backtest", params=query)


def connected(served: Served, browsers: Browsers, scenario: str, *, sync: bool = True) -> Company:
    owner = browsers.sign_up(f"backtest-{scenario}")
    business_id = new_business(owner, timezone=MORNING.zone)
    realm = Realm.create(served.sandbox, scenario=scenario)
    connect(owner, business_id, DEFAULT_REDIRECT_URI, realm.realm_id)
    if sync:
        Harness.of(served.settings.database_url, realm, business_id).full_sync()
    return Company(owner, business_id)


@pytest.fixture(scope="module")
def company(served: Served, browsers: Browsers) -> Company:
    return connected(served, browsers, "healthy")


def test_any_member_reads_the_figures_the_command_prints(served: Served, browsers: Browsers, company: Company) -> None:
    answer = company.backtest()

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == FIELDS
    assert body["horizon_weeks"] == 4
    assert body["last_as_of"] == (MORNING.day - timedelta(weeks=4)).isoformat()
    for figure in ("collections_wape", "cash_mae"):
        assert Decimal(body["ours"][figure]) < Decimal(body["naive"][figure])
    viewer = browsers.sign_up("backtest-viewer")
    add_member(company.owner, company.business_id, viewer, "viewer")
    assert company.backtest(as_=viewer).json() == body
    printed = CliRunner().invoke(
        app, ["backtest", company.business_id, "--json"], env={"OODALOO_DATABASE_URL": served.settings.database_url}
    )
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == body


def test_another_tenant_gets_not_found(browsers: Browsers, company: Company) -> None:
    stranger = browsers.sign_up("backtest-stranger")

    answer = company.backtest(as_=stranger)

    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "business_not_found"


def test_the_horizon_is_one_to_thirteen_weeks(company: Company) -> None:
    shorter = company.backtest(horizon_weeks=2)
    assert shorter.status_code == 200, shorter.text
    assert shorter.json()["horizon_weeks"] == 2
    assert shorter.json()["last_as_of"] == (MORNING.day - timedelta(weeks=2)).isoformat()
    for wrong in ("0", "14", "two"):
        refused = company.backtest(horizon_weeks=wrong)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "horizon_weeks"


def test_books_not_synced_or_too_short_are_refused_saying_why(served: Served, browsers: Browsers) -> None:
    not_synced = connected(served, browsers, "healthy", sync=False).backtest()
    assert not_synced.status_code == 409, not_synced.text
    assert not_synced.json()["error"]["code"] == "mirror_not_synced"

    empty = connected(served, browsers, "empty").backtest()
    assert empty.status_code == 409, empty.text
    error = empty.json()["error"]
    assert error["code"] == "not_enough_history"
    assert "needs at least 8 weeks of history" in error["message"]
