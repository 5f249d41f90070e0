"""The runway's speed where a user waits for it: the forecast and a what-if impact of a business with 50,000 open
items, and paying a bill end to end while QBO answers in 150 ms.

The business: the demo generator's ``healthy`` company, connected through the real OAuth routes and fully synced into
its mirror (a year and more of invoices, payments, bills, payroll and card spending: the history the forecast learns
customers' habits and recurring outflows from), then grown to ``OPEN_ITEMS`` open invoices and bills by storing more
in its mirror through the sync's own ``MirrorRepository.store`` (untimed; through QBO's API 50,000 objects would take
the bench longer than everything it measures). They are copies of its own open invoices and bills with new ids, spread
over its customers and vendors, issued over the last ``ISSUED_WITHIN_DAYS`` days and due 30 days later, so that some
are overdue, most fall in the 13 weeks and a few after them.

Figures (each request over loopback HTTP with an API token, against the app served in this process on SQLite; the
headline is the median, p95 beside it). The app keeps each business's forecast (``runway.core.cache``) while its books
version — one query over what the forecast reads — is unchanged, so a request waits for one of two things:
- ``forecast_ms``: ``GET /api/businesses/{id}/runway``, the 13-week forecast as the console asks for it, of a business
  whose books are loaded (nothing changed since its last forecast): the books version checked, the forecast kept
  shaped into the reply. The issue's target is for this figure. Checked: none of these requests computed a forecast.
- ``forecast_cold_ms``: the same request right after the books changed (untimed before each: the reserve floor set
  through the API, a change the next forecast must show; any change costs the same, the books are read again): the
  books version, then the whole forecast — every invoice and payment, bill and bill payment, bank movement, purchase
  and journal entry read from the mirror, each customer's habits learned, the recurring outflows found, every item
  dated, the 13 weeks computed. Checked: each of these requests computed one forecast.
- ``impact_ms`` and ``impact_cold_ms``: ``POST .../runway/impact`` with one change (pay an open bill now), as a preview
  on a click waits for it: the what-if on the forecast kept (one pass over the changed items), or after a change to
  the books, on a forecast computed for it.
- the parts of those, timed in-process on the same books (one session each, medians and p95): ``books_version_ms``
  (the query that says whether the books changed), ``load_books_ms`` (reading the mirror into memory),
  ``recurring_ms`` (finding the recurring outflows), ``basis_ms`` (customers' habits, each item dated: everything
  between the books and the arithmetic), ``forecast_compute_ms`` (the 13 weeks from those inputs),
  ``impact_compute_ms`` (one change's impact from the inputs, one pass over the items) and ``impact_on_baseline_ms``
  (the same with the forecast already computed, as the service answers with the forecast it keeps).
- ``pay_e2e_p95_ms``: ``POST .../bills/{id}/pay`` at ``QBO_LATENCY_MS`` of QBO latency, until the reply, on a demo
  business whose mirror is synced and whose owner has the console open on the runway (read once, untimed), one payment
  after another: the bill and account checked against the mirror, the runway impact estimated from the forecast
  before paying (a reading of the books and a forecast's inputs), one QBO call, the payment recorded in the mirror
  (bill, bank account, vendor), the impact kept with the action. The reply carries the runway after the payment;
  verified untimed after each: the next ``GET .../runway`` starts from the bank cash less the amount paid, and its
  runway is the one the reply gave (``pay_runway_mismatches`` counts those that differ). Beside it,
  ``pay_e2e_cold_p95_ms``: each payment the first request of a freshly built app (smartsync_bench's cold payments).

The machine is shared: figures vary from run to run by tens of percent.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import httpx
from sqlalchemy import select

from oodaloo.domains.ap.recurring import RecurringService
from oodaloo.domains.core.models import Business as BusinessRow
from oodaloo.domains.qbo.mirror_models import MirroredBill, MirroredCustomer, MirroredInvoice, MirroredVendor
from oodaloo.domains.qbo.mirror_repository import MirrorRepository
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.main import create_app
from oodaloo.runway.core.books_version import books_version
from oodaloo.runway.core.cache import runway_cache
from oodaloo.runway.core.forecast import Pay, forecast, impact
from oodaloo.runway.core.runway_calculator import basis_of, load_books
from oodaloo.settings import Settings
from tests.acceptance.harness import Customer, connect_customer, sandbox_config, sandbox_server
from tests.support.servers import serve

from ._common import median, percentile, write_results
from .smartsync_bench import Business, _log_as_in_production, _settings, _sync_mirror

OPEN_ITEMS = 50_000
INVOICE_SHARE = 0.6  # of the open items: a business sells to many more customers than it buys from
ISSUED_WITHIN_DAYS = 90
TERMS_DAYS = 30
REQUESTS = 20
WARMUP_REQUESTS = 2
COLD_REQUESTS = 10
PARTS = 10
PAYMENTS = 30
COLD_PAYMENTS = 10
QBO_LATENCY_MS = 150.0
STORE_CHUNK = 2_000
SEED = 8


# ------------------------------------------------------------------------------------------- the large business
async def _grow_to_open_items(settings: Settings, business_id: uuid.UUID, today: date) -> dict[str, int]:
    """Untimed: store copies of the business's open invoices and bills in its mirror until it holds OPEN_ITEMS."""
    database = Database(settings.database_url)
    rng = random.Random(SEED)
    try:
        async with unit_of_work(database.sessionmaker) as session:
            invoices = await _rows(session, MirroredInvoice, business_id)
            bills = await _rows(session, MirroredBill, business_id)
            customers = await _ids(session, MirroredCustomer, business_id)
            vendors = await _ids(session, MirroredVendor, business_id)
        open_invoices = [row.raw for row in invoices if (row.balance or 0) > 0]
        open_bills = [row.raw for row in bills if (row.balance or 0) > 0]
        missing = OPEN_ITEMS - len(open_invoices) - len(open_bills)
        more_invoices = max(0, round(OPEN_ITEMS * INVOICE_SHARE) - len(open_invoices))
        more_bills = max(0, missing - more_invoices)
        template_invoice = open_invoices[0] if open_invoices else invoices[-1].raw
        template_bill = open_bills[0] if open_bills else bills[-1].raw
        new_invoices = [
            _copy(template_invoice, f"8{index:07d}", "CustomerRef", rng.choice(customers), today, rng)
            for index in range(more_invoices)
        ]
        new_bills = [
            _copy(template_bill, f"9{index:07d}", "VendorRef", rng.choice(vendors), today, rng)
            for index in range(more_bills)
        ]
        for entity, raws in (("Invoice", new_invoices), ("Bill", new_bills)):
            for start in range(0, len(raws), STORE_CHUNK):
                async with unit_of_work(database.sessionmaker) as session:
                    await MirrorRepository.of(session, business_id, entity).store(raws[start : start + STORE_CHUNK])
    finally:
        await database.dispose()
    return {
        "open_invoices": len(open_invoices) + len(new_invoices),
        "open_bills": len(open_bills) + len(new_bills),
        "history_invoices": len(invoices),
        "history_bills": len(bills),
    }


async def _rows(session: Any, model: Any, business_id: uuid.UUID) -> list[Any]:
    return list((await session.scalars(select(model).where(model.business_id == business_id))).all())


async def _ids(session: Any, model: Any, business_id: uuid.UUID) -> list[str]:
    return [str(row.qbo_id) for row in await _rows(session, model, business_id)]


def _copy(template: dict[str, Any], qbo_id: str, party: str, party_id: str, today: date, rng: random.Random) -> Any:
    """An open copy of ``template``: a new id, party, amount and dates; one line carrying the whole amount."""
    raw = copy.deepcopy(template)
    issued = today - timedelta(days=rng.randrange(ISSUED_WITHIN_DAYS))
    amount = Decimal(rng.randrange(10_000, 500_000)) / 100
    line = copy.deepcopy(raw["Line"][0])
    line["Amount"] = amount
    line.pop("Id", None)
    raw.update(
        Id=qbo_id,
        SyncToken="0",
        DocNumber=f"B{qbo_id}",
        TxnDate=issued.isoformat(),
        DueDate=(issued + timedelta(days=TERMS_DAYS)).isoformat(),
        TotalAmt=amount,
        Balance=amount,
        Line=[line],
    )
    raw[party] = {"value": party_id}
    raw.pop("LinkedTxn", None)
    return raw


# ------------------------------------------------------------------------------------------------ the requests
def _timed(request: Callable[[], httpx.Response]) -> list[float]:
    elapsed_ms: list[float] = []
    for index in range(WARMUP_REQUESTS + REQUESTS):
        started = time.perf_counter()
        response = request()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
        if index >= WARMUP_REQUESTS:
            elapsed_ms.append(elapsed)
    return elapsed_ms


def _an_open_bill(customer: Customer) -> str:
    for number in range(1, 14):
        week = customer.api.get(f"/api/businesses/{customer.business_id}/runway/weeks/{number}").json()
        for item in week["items"]:
            if item["kind"] == "bill":
                return str(item["source_id"])
    raise RuntimeError("no open bill in the forecast")


def _after_each_change(customer: Customer, request: Callable[[], httpx.Response]) -> list[float]:
    """COLD_REQUESTS requests, each right after the books changed: untimed before each, the reserve floor is set to
    another amount (put back at the end)."""
    business = f"/api/businesses/{customer.business_id}"
    floor = Decimal(customer.api.get(f"{business}/reserves").json()["floor"])  # no forecast read: none computed
    elapsed_ms: list[float] = []
    try:
        for index in range(COLD_REQUESTS):
            changed = customer.api.put(f"{business}/reserve-floor", json={"amount": str(floor + 1 + index % 2)})
            if changed.status_code != 200:
                raise RuntimeError(f"reserve floor: {changed.status_code} {changed.text[:300]}")
            started = time.perf_counter()
            response = request()
            elapsed_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    finally:
        customer.api.put(f"{business}/reserve-floor", json={"amount": str(floor)})
    return elapsed_ms


def _computing(customer: Customer, expected: Callable[[int], int], measure: Callable[[], list[float]]) -> list[float]:
    """``measure``'s samples, checked to have computed ``expected(samples)`` forecasts (the app runs in this process:
    its cache says how many it computed), so that a warm figure is all cache and a cold one all computing."""
    business_id = uuid.UUID(customer.business_id)
    before = runway_cache.computations(business_id)
    samples = measure()
    computed = runway_cache.computations(business_id) - before
    if computed != expected(len(samples)):
        raise RuntimeError(f"{computed} forecasts computed for {len(samples)} requests, not {expected(len(samples))}")
    return samples


def _requests(customer: Customer) -> dict[str, float]:
    path = f"/api/businesses/{customer.business_id}/runway"
    bill_id = _an_open_bill(customer)  # also the first forecast of these books: the reads below find it kept
    change = {"changes": [{"action": "pay", "kind": "bill", "source_id": bill_id}]}

    def read() -> httpx.Response:
        return customer.api.get(path)

    def preview() -> httpx.Response:
        return customer.api.post(f"{path}/impact", json=change)

    none, each = (lambda _count: 0), (lambda count: count)
    forecast_ms = _computing(customer, none, lambda: _timed(read))
    impact_ms = _computing(customer, none, lambda: _timed(preview))
    forecast_cold_ms = _computing(customer, each, lambda: _after_each_change(customer, read))
    impact_cold_ms = _computing(customer, each, lambda: _after_each_change(customer, preview))
    return {
        "forecast_ms": median(forecast_ms),
        "forecast_p95_ms": percentile(forecast_ms, 95),
        "forecast_cold_ms": median(forecast_cold_ms),
        "forecast_cold_p95_ms": percentile(forecast_cold_ms, 95),
        "impact_ms": median(impact_ms),
        "impact_p95_ms": percentile(impact_ms, 95),
        "impact_cold_ms": median(impact_cold_ms),
        "impact_cold_p95_ms": percentile(impact_cold_ms, 95),
    }


# ---------------------------------------------------------------------------------------------------- the parts
async def _parts(settings: Settings, business_id: uuid.UUID) -> dict[str, float]:
    """The requests' work, part by part, on the same books (each part a median and p95 of PARTS runs)."""
    samples: dict[str, list[float]] = {}

    def record(name: str, started: float) -> float:
        now = time.perf_counter()
        samples.setdefault(name, []).append((now - started) * 1000)
        return now

    database = Database(settings.database_url)
    try:
        for _ in range(PARTS):
            async with unit_of_work(database.sessionmaker) as session:
                business = await session.get(BusinessRow, business_id)
                assert business is not None
                today = business.today()
                started = time.perf_counter()
                await books_version(session, business_id)
                started = record("books_version", started)
                books = await load_books(session, business)
                started = record("load_books", started)
                recurring = await RecurringService(session, business_id).items(today, history=books.spending)
                started = record("recurring", started)
            basis = basis_of(books, today, recurring, replay=False)
            started = record("basis", started)
            result = forecast(basis.inputs)
            started = record("forecast_compute", started)
            bill = next(item for item in basis.inputs.outflows if item.kind == "bill")
            impact(basis.inputs, [Pay(bill.source_id)])
            started = record("impact_compute", started)
            impact(basis.inputs, [Pay(bill.source_id)], baseline=result)
            record("impact_on_baseline", started)
    finally:
        await database.dispose()
    figures: dict[str, float] = {}
    for name, taken in samples.items():
        figures[f"{name}_ms"] = median(taken)
        figures[f"{name}_p95_ms"] = percentile(taken, 95)
    return figures


# ------------------------------------------------------------------------------------------------------ paying
def _pay_warm(settings: Settings, business: Business) -> dict[str, float]:
    """PAYMENTS payments one after another through the app, the console open on the runway (read once, untimed);
    after each, untimed, the next forecast read must be the one the reply said: the runway the impact gave as "after"
    and the bank cash lower by the amount paid."""
    customer, realm = business.customer, business.realm
    bills = realm.create_open_bills([Decimal("200.00") + index for index in range(PAYMENTS)])
    account_id = realm.bank_account_id()
    asyncio.run(_sync_mirror(settings, business))  # untimed, as a deployment keeps it: the bills are in the forecast
    cash = _runway(customer)["starting_cash"]
    paid_ms: list[float] = []
    mismatches = 0
    for bill in bills:
        elapsed, reply = _timed_payment(customer, bill, account_id)
        paid_ms.append(elapsed)
        after = _runway(customer)
        if reply.get("impact") is None:
            raise RuntimeError(f"the payment's reply carries no runway impact: {reply}")
        if Decimal(after["starting_cash"]) != Decimal(cash) - Decimal(str(bill["Balance"])):
            raise RuntimeError(f"the forecast after paying starts from {after['starting_cash']}, not {cash} - paid")
        mismatches += reply["impact"]["after"]["days"] != after["runway"]["days"]
        cash = after["starting_cash"]
    if mismatches:
        print(f"  warning: {mismatches} of {len(bills)} payment replies gave another runway than the next forecast")
    return {
        "pay_e2e_p50_ms": median(paid_ms),
        "pay_e2e_p95_ms": percentile(paid_ms, 95),
        "pay_runway_mismatches": mismatches,
    }


def _pay_cold(settings: Settings, business: Business, devnull: TextIO) -> dict[str, float]:
    """COLD_PAYMENTS payments, each the first request of a freshly built app (smartsync_bench's cold payments)."""
    realm = business.realm
    bills = realm.create_open_bills([Decimal("500.00") + index for index in range(COLD_PAYMENTS)])
    account_id = realm.bank_account_id()
    asyncio.run(_sync_mirror(settings, business))
    paid_ms: list[float] = []
    for bill in bills:
        app = create_app(settings)
        _log_as_in_production(devnull)
        with serve(app) as app_url:
            fresh = _customer_at(app_url, business.customer)
            try:
                gc.collect()  # untimed: see smartsync_bench's cold payments
                paid_ms.append(_timed_payment(fresh, bill, account_id)[0])
            finally:
                fresh.api.close()
    return {"pay_e2e_cold_p50_ms": median(paid_ms), "pay_e2e_cold_p95_ms": percentile(paid_ms, 95)}


def _timed_payment(customer: Customer, bill: dict[str, Any], account_id: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = customer.pay(str(bill["Id"]), Decimal(str(bill["Balance"])), account_id, key=f"bench-{uuid.uuid4()}")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"payment failed: {response.status_code} {response.text}")
    reply: dict[str, Any] = response.json()
    return elapsed, reply


def _customer_at(app_url: str, customer: Customer) -> Customer:
    api = httpx.Client(base_url=app_url, headers={"Authorization": f"Bearer {customer.token}"}, timeout=30.0)
    return Customer(app_url, customer.email, customer.business_id, customer.realm_id, customer.token, api)


def _runway(customer: Customer) -> dict[str, Any]:
    response = customer.api.get(f"/api/businesses/{customer.business_id}/runway")
    if response.status_code != 200:
        raise RuntimeError(f"runway: {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


# ------------------------------------------------------------------------------------------------------------ run
def _today_of(settings: Settings, business_id: uuid.UUID) -> date:
    async def go() -> date:
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                business = await session.get(BusinessRow, business_id)
                assert business is not None
                return business.today()
        finally:
            await database.dispose()

    return asyncio.run(go())


def run() -> dict[str, float]:
    with (
        open(os.devnull, "w") as devnull,
        sandbox_server(sandbox_config(limits=False)) as sandbox,
        tempfile.TemporaryDirectory() as work_dir,
    ):
        settings = _settings(Path(work_dir), sandbox.base_url)
        app = create_app(settings)
        _log_as_in_production(devnull)
        with serve(app) as app_url:
            large = _connected(sandbox, app_url, seed=SEED)
            paying = _connected(sandbox, app_url, seed=SEED + 1)
            try:
                asyncio.run(_sync_mirror(settings, large))
                counts = asyncio.run(
                    _grow_to_open_items(settings, large.business_id, _today_of(settings, large.business_id))
                )
                figures: dict[str, float] = {**counts, "open_items": counts["open_invoices"] + counts["open_bills"]}
                figures |= _requests(large.customer)
                figures |= asyncio.run(_parts(settings, large.business_id))
                sandbox.configure_faults(latency_ms=QBO_LATENCY_MS, jitter_ms=0.0, error_rate=0.0)
                figures |= _pay_warm(settings, paying)
                figures |= _pay_cold(settings, paying, devnull)
            finally:
                sandbox.calm()
                for business in (large, paying):
                    business.customer.close()
                    business.realm.close()
    figures["qbo_latency_ms"] = QBO_LATENCY_MS
    return figures


def _connected(sandbox: Any, app_url: str, *, seed: int) -> Business:
    realm = sandbox.realm_api(sandbox.create_realm(scenario="healthy", seed=seed))
    return Business(connect_customer(app_url, realm.realm_id), realm)


TARGETS_MS = {"forecast_ms": 250.0, "impact_ms": 50.0, "pay_e2e_p95_ms": 300.0}


def main() -> None:
    figures = run()
    write_results("runway", figures)
    for name, target in TARGETS_MS.items():
        verdict = "met" if figures[name] < target else "MISSED"
        print(f"  {name}: {figures[name]:.1f} ms against a target under {target:.0f} ms: {verdict}")


__all__: Sequence[str] = ("main", "run")

if __name__ == "__main__":
    main()
