"""Helpers for the drift-alert and snapshot tests: a business connected to a sandbox company of its own (the app served
beside the sandbox, on a database of the module's own), synced and checked by a worker's runtime on the in-process job
queue exactly as ``oodaloo worker`` runs them, and the sandbox's side of things (payments made or voided in QBO)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from taskiq import InMemoryBroker

from oodaloo.domains.core.drift import DRIFT_CHECK_JOB, DriftChecks, DriftReport
from oodaloo.domains.core.kpis import SNAPSHOT_JOB, DailySnapshots
from oodaloo.infra.jobs.smart_sync import JobQueue
from oodaloo.runway.monitoring import read_runway
from oodaloo.settings import Settings
from oodaloo.wiring import QBORuntime, worker_runtime
from tests.domains.qbo.bulk_support import Fleet
from tests.domains.qbo.mirror_support import Realm
from tests.support.qbo import SandboxCompany

T = TypeVar("T")
# The queue's own sweep loop never fires during a test: each test sweeps when it means to.
NO_TIMED_SWEEPS_SECONDS = 24 * 3600.0
# A job's follow-up is sent before the job ends; a few rounds of waiting cover any chain a test can start (a sync,
# then the drift check it asks for).
SETTLE_ROUNDS = 5


@dataclass
class Worker:
    """A worker's runtime (every job kind registered, sweeps too) with the in-process job queue."""

    runtime: QBORuntime
    queue: JobQueue

    async def settle(self) -> None:
        """Until every job sent so far (and the jobs they sent) has run."""
        broker = self.queue.broker
        assert isinstance(broker, InMemoryBroker)
        for _ in range(SETTLE_ROUNDS):
            await broker.wait_all()

    async def sweep(self, kind: str) -> int:
        hook = self.runtime.job_kinds.get(kind).sweep
        assert hook is not None, f"{kind} has no sweep"
        return await hook(self.queue)

    @property
    def drift(self) -> DriftChecks:
        assert self.runtime.database is not None
        return DriftChecks(
            smart_sync=self.runtime.sync, sessionmaker=self.runtime.database.sessionmaker, gauge=read_runway
        )

    @property
    def snapshots(self) -> DailySnapshots:
        assert self.runtime.database is not None
        sessionmaker = self.runtime.database.sessionmaker
        return DailySnapshots(smart_sync=self.runtime.sync, sessionmaker=sessionmaker, gauge=read_runway)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[Worker]:
    # mirror_sweep on, as in production: the drift and snapshot sweeps are registered with the mirror's.
    runtime = await worker_runtime(settings.model_copy(update={"mirror_sweep": True}))
    queue = await JobQueue.start_in_process(runtime, sweep_interval_seconds=NO_TIMED_SWEEPS_SECONDS)
    try:
        yield Worker(runtime, queue)
    finally:
        await queue.stop()
        await runtime.aclose()


def with_worker(settings: Settings, action: Callable[[Worker], Awaitable[T]]) -> T:
    async def go() -> T:
        async with running_worker(settings) as worker:
            return await action(worker)

    return asyncio.run(go())


@dataclass
class Watched:
    """A business of ``books`` connected to a sandbox company of its own."""

    books: Fleet
    business_id: uuid.UUID

    @classmethod
    def connect(cls, books: Fleet, timezone: str) -> Watched:
        return cls(books, books.add_business(timezone=timezone))

    @property
    def realm(self) -> Realm:
        return self.books.realms[self.business_id]

    @property
    def company(self) -> SandboxCompany:
        return SandboxCompany(self.realm.sandbox, self.realm.realm_id)

    def url(self, path: str = "") -> str:
        return f"/api/businesses/{self.business_id}{path}"

    # -- the worker's side --------------------------------------------------------------------------------------
    def sync(self) -> None:
        """The business's sync job, as a webhook or "sync now" asks for it, and the jobs it leads to (the drift
        check), run to the end."""

        async def go(worker: Worker) -> None:
            await worker.runtime.mirror_jobs.request(self.business_id)
            await worker.settle()

        with_worker(self.books.settings, go)

    def check(self) -> DriftReport:
        """The drift check, run once more by hand."""

        async def go(worker: Worker) -> DriftReport:
            return await worker.drift.check(self.business_id)

        return with_worker(self.books.settings, go)

    def due_for_a_check(self) -> bool:
        """Whether the drift check's sweep finds this business due (other tests' businesses may share the database)."""

        async def go(worker: Worker) -> bool:
            return self.business_id in await worker.drift.due()

        return with_worker(self.books.settings, go)

    def sweep(self, kind: str = DRIFT_CHECK_JOB) -> int:
        """One sweep of ``kind`` and the jobs it asked for, run to the end; how many businesses it found due."""

        async def go(worker: Worker) -> int:
            found = await worker.sweep(kind)
            await worker.settle()
            return found

        return with_worker(self.books.settings, go)

    def sweep_snapshots(self) -> int:
        return self.sweep(SNAPSHOT_JOB)

    # -- the API's side -----------------------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        response = self.books.owner.get(self.url(path), params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def alerts(self, status: str = "all") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/alerts", status=status)
        return found

    def alerts_of(self, kind: str) -> list[dict[str, Any]]:
        return [alert for alert in self.alerts() if alert["kind"] == kind]

    def plan(self, bill_id: str, planned: date) -> None:
        response = self.books.owner.client.patch(
            self.url(f"/bills/{bill_id}/plan"), json={"planned_pay_date": planned.isoformat()}
        )
        assert response.status_code == 200, response.text

    def pay_through_oodaloo(self, bill_id: str, amount: Decimal, bank_id: str) -> dict[str, Any]:
        response = self.books.owner.post(
            self.url(f"/bills/{bill_id}/pay"),
            json={"amount": str(amount), "pay_from_account_id": bank_id},
            headers={"Idempotency-Key": f"drift-{uuid.uuid4().hex}"},
        )
        assert response.status_code == 200, response.text
        paid: dict[str, Any] = response.json()
        return paid

    # -- QBO's side ---------------------------------------------------------------------------------------------
    def open_bills(self) -> list[dict[str, Any]]:
        bills = self.realm.objects("Bill").values()
        return sorted((bill for bill in bills if Decimal(str(bill["Balance"])) > 0), key=lambda bill: int(bill["Id"]))

    def open_invoices(self) -> list[dict[str, Any]]:
        invoices = self.realm.objects("Invoice").values()
        found = (invoice for invoice in invoices if Decimal(str(invoice["Balance"])) > 0)
        return sorted(found, key=lambda invoice: int(invoice["Id"]))

    def pay_bill_in_qbo(self, bill: dict[str, Any], amount: Decimal, bank_id: str) -> dict[str, Any]:
        """A payment someone made in QuickBooks itself, not through Oodaloo."""
        return self.company.write(
            "BillPayment",
            {
                "VendorRef": bill["VendorRef"],
                "PayType": "Check",
                "CheckPayment": {"BankAccountRef": {"value": bank_id}},
                "TotalAmt": str(amount),
                "Line": [{"Amount": str(amount), "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
            },
        )

    def receive_in_qbo(self, invoice: dict[str, Any], amount: Decimal) -> dict[str, Any]:
        """A customer payment recorded in QuickBooks against ``invoice``."""
        return self.company.write(
            "Payment",
            {
                "CustomerRef": invoice["CustomerRef"],
                "TotalAmt": str(amount),
                "Line": [{"Amount": str(amount), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
            },
        )

    def delete_in_qbo(self, entity: str, qbo_id: str) -> None:
        current = self.company.read(entity, qbo_id)
        body = {"Id": qbo_id, "SyncToken": current["SyncToken"]}
        response = self.realm.post(f"/{entity.lower()}", body, operation="delete")
        assert response.status_code == 200, response.text
