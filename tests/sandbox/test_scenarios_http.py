"""Each demo scenario, served by the sandbox and read back over HTTP, has the runway its name promises,
at either end of the company's day (frozen clocks in zones behind and ahead of UTC)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from oodaloo.sandbox.config import SandboxConfig
from tests.sandbox.conftest import RunningSandbox, make_config
from tests.sandbox.runway_estimate import INFINITE, bank_movements, cash_in_bank, estimate_runway_weeks
from tests.support.clock import EDGE_INSTANTS, Instant, clock_fixture

PAGE = 1000

frozen_clock = clock_fixture(EDGE_INSTANTS, scope="module")


@pytest.fixture(scope="module")
def sandbox_config(frozen_clock: Instant) -> SandboxConfig:
    """The sandbox (and its demo company) is made inside the frozen clock, in the instant's zone."""
    return make_config(timezone=frozen_clock.zone)


def _all(client: httpx.Client, entity: str) -> list[dict[str, Any]]:
    """Every object of ``entity``, paged at QBO's maximum page size."""
    rows: list[dict[str, Any]] = []
    while True:
        query = f"SELECT * FROM {entity} STARTPOSITION {len(rows) + 1} MAXRESULTS {PAGE}"
        body = client.get("query", params={"query": query}).raise_for_status().json()
        page = body["QueryResponse"].get(entity, [])
        rows.extend(page)
        if len(page) < PAGE:
            return rows


def _runway_weeks(sandbox: RunningSandbox, scenario: str) -> Decimal:
    created = sandbox.admin().post("/_sandbox/realms", json={"scenario": scenario, "seed": 11})
    assert created.status_code == 201, created.text
    client = sandbox.client(created.json()["realm_id"])
    accounts = _all(client, "Account")
    moves = bank_movements(
        accounts=accounts,
        purchases=_all(client, "Purchase"),
        bill_payments=_all(client, "BillPayment"),
        payments=_all(client, "Payment"),
        deposits=_all(client, "Deposit"),
        sales_receipts=_all(client, "SalesReceipt"),
        transfers=_all(client, "Transfer"),
        journal_entries=_all(client, "JournalEntry"),
    )
    today = datetime.now(ZoneInfo(sandbox.state.config.timezone)).date()
    assert isinstance(today, date)
    return estimate_runway_weeks(bank_balance=cash_in_bank(accounts), moves=moves, today=today)


def test_healthy_runs_over_six_months(sandbox: RunningSandbox) -> None:
    weeks = _runway_weeks(sandbox, "healthy")
    assert weeks == INFINITE or weeks > 26, f"healthy: runway of {weeks} weeks"


def test_tight_runs_four_to_ten_weeks(sandbox: RunningSandbox) -> None:
    weeks = _runway_weeks(sandbox, "tight")
    assert 4 <= weeks <= 10, f"tight: runway of {weeks} weeks"


def test_crisis_runs_under_three_weeks(sandbox: RunningSandbox) -> None:
    weeks = _runway_weeks(sandbox, "crisis")
    assert weeks < 3, f"crisis: runway of {weeks} weeks"
