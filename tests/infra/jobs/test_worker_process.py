"""``oodaloo worker`` and ``oodaloo scheduler`` as production runs them, over a Redis of the test's own: idle for a
minute, then a job arrives and the worker runs it; Redis is killed and started again, and a job still runs. Both
processes stay up throughout (issue #6, defect 11: an idle worker used to exit after redis-py's 5 s socket timeout).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oodaloo.settings import Settings
from tests.acceptance.harness import Served, sandbox_config, served_app, worker_env
from tests.support.app_process import AppProcess, oodaloo_command, running
from tests.support.redis_server import REDIS_SERVER, RedisServer
from tests.support.waiting import until

# Everything here is the test's own (Redis on a free port, sandbox, processes), so it runs beside others under xdist.
pytestmark = [
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
    pytest.mark.timeout(240),
]

# The scenario: the queue stays empty this long before the first job arrives.
IDLE_SECONDS = 60.0
# Bounds of the waits on what the processes do (generous: a busy 2-core machine runs the suite with -n 8).
START_SECONDS = 60.0
SETTLE_SECONDS = 60.0
POLL_SECONDS = 0.2
# The app gives up waiting on QBO after this long and answers 202; the sandbox holds the committed write's answer
# much longer, so only a reconciliation (the worker's job) can settle the action.
ACTION_DEADLINE_SECONDS = 2.0
HANG_SECONDS = 20.0


def _until(condition: Callable[[], Any], what: str, *, within: float) -> Any:
    return until(condition, what, within=within, poll_seconds=POLL_SECONDS)


def _listening(process: AppProcess) -> bool:
    assert process.exit_code() is None, f"the process exited:\n{process.output()}"
    return "jobs.worker_started" in process.output()


def _stays_up(processes: list[AppProcess], seconds: float) -> None:
    """The scenario's idle minute, watching that no process exits meanwhile (the bug ended the worker in ~5 s)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for process in processes:
            assert process.exit_code() is None, f"{process.command[-1]} exited while idle:\n{process.output()}"
        time.sleep(1.0)


def _pay_with_a_late_answer(served: Served, bill_id: str, account_id: str) -> str:
    """Pay ``bill_id``; QBO commits the payment but answers too late, so the app hands it to the reconciler (202)."""
    answer = served.customer.pay(bill_id, Decimal("80.00"), account_id, key=f"worker-{uuid.uuid4().hex}")
    assert answer.status_code == 202, answer.text
    action_id: str = answer.json()["action_id"]
    return action_id


def _settled_by_the_worker(served: Served, action_id: str, watched: list[AppProcess]) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        for process in watched:
            assert process.exit_code() is None, f"{process.command[-1]} exited:\n{process.output()}"
        state = served.customer.action(action_id)
        return state if state["status"] in ("succeeded", "failed") else None

    state: dict[str, Any] = _until(settled, "the worker to settle the action", within=SETTLE_SECONDS)
    return state


def test_the_worker_and_scheduler_run_jobs_after_an_idle_minute_and_a_redis_restart(
    settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    # The app only enqueues (it has Redis): every settled action below was settled by the worker process.
    with served_app(
        settings,
        sandbox_config(limits=False),
        seed=61,
        redis_url=redis_server.url,
        action_deadline_seconds=ACTION_DEADLINE_SECONDS,
    ) as served:
        bills = served.realm.create_open_bills([Decimal("80.00"), Decimal("80.00")])
        account_id = served.realm.bank_account_id()
        # From here every write commits and then hangs; reads (the reconciler's look-up by marker) pass.
        served.sandbox.configure_faults(
            error_rate=1.0, kinds={"timeout_after_commit": 1.0}, timeout_seconds=HANG_SECONDS
        )
        env = worker_env(settings.database_url, served, redis_server.url)
        worker = AppProcess(oodaloo_command("worker"), env=env, log_path=tmp_path / "worker.log", cwd=tmp_path)
        scheduler = AppProcess(oodaloo_command("scheduler"), env=env, log_path=tmp_path / "scheduler.log", cwd=tmp_path)
        with running(worker), running(scheduler):
            _until(lambda: _listening(worker), "the worker to listen", within=START_SECONDS)
            _stays_up([worker, scheduler], IDLE_SECONDS)

            first = _pay_with_a_late_answer(served, bills[0]["Id"], account_id)
            assert _settled_by_the_worker(served, first, [worker, scheduler])["status"] == "succeeded"

            redis_server.kill()
            _until(lambda: "jobs.redis_unavailable" in worker.output(), "the worker to notice", within=START_SECONDS)
            redis_server.start()

            second = _pay_with_a_late_answer(served, bills[1]["Id"], account_id)
            assert _settled_by_the_worker(served, second, [worker, scheduler])["status"] == "succeeded"
            assert "jobs.redis_reconnected" in worker.output()

            worker.terminate()
            scheduler.terminate()
            assert (worker.exit_code(), scheduler.exit_code()) == (0, 0), worker.output() + scheduler.output()

        payments = served.realm.our_bill_payments()
        assert sorted(payment["Line"][0]["LinkedTxn"][0]["TxnId"] for payment in payments) == sorted(
            bill["Id"] for bill in bills
        )
