"""Issue #3 acceptance 2: the app is killed (-9) while QBO holds a committed payment it has not answered; after a
restart on the same database the reconciler settles the action ``succeeded`` and QBO still has one BillPayment.

Issue #6 defect 18: with the default settings (no shortened staleness), a live process sharing the database settles
a killed process's in-flight payment within a minute, because the dead process stops renewing its lease."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from oodaloo.settings import Settings
from tests.acceptance.harness import (
    REDIRECT_URI,
    Customer,
    RealmApi,
    Sandbox,
    connect_customer,
    sandbox_config,
    sandbox_server,
)
from tests.conftest import TEST_SECRET_KEY
from tests.support.app_process import AppProcess, app_settings_env, free_port, oodaloo_command, running
from tests.support.waiting import until

pytestmark = pytest.mark.slow

# The sandbox commits the write and then holds the answer this long: far beyond the moment the app is killed.
HANG_SECONDS = 10.0
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05


# A dead process's in-flight action is settled this soon after the kill, by default (the "within a minute").
TAKEOVER_SECONDS = 60.0


def _app_env(settings: Settings, sandbox: Sandbox, port: int, *, quick_reconcile: bool = True) -> dict[str, str]:
    # The embedded topology (no Redis): each process itself sweeps for abandoned actions. ``quick_reconcile`` shortens
    # the reconciler's timings (the restart test); without it the defaults hold: 30 s leases, 15 s sweeps.
    quick: dict[str, float] = (
        {"reconcile_stale_seconds": 1.0, "reconcile_backoff_seconds": 0.5, "sweep_interval_seconds": 0.5}
        if quick_reconcile
        else {}
    )
    return app_settings_env(
        port=port,
        database_url=settings.database_url,
        environment="test",
        secret_key=TEST_SECRET_KEY,
        embedded_sandbox=False,
        demo_autologin=False,
        qbo_api_base_url=sandbox.base_url,
        qbo_discovery_url=f"{sandbox.base_url}/.well-known/openid_configuration",
        qbo_redirect_uri=REDIRECT_URI,
        log_level="WARNING",
        **quick,
    )


def _until(condition: Callable[[], Any], what: str, within: float = WAIT_SECONDS) -> Any:
    return until(condition, what, within=within, poll_seconds=POLL_SECONDS)


def _pay_in_background(customer: Customer, bill_id: str, amount: Decimal, account_id: str, key: str) -> None:
    """The customer's request; it never gets an answer (the app dies under it)."""

    def send() -> None:
        with contextlib.suppress(httpx.TransportError):  # the connection dies with the app
            customer.pay(bill_id, amount, account_id, key=key)

    threading.Thread(target=send, name="doomed-payment", daemon=True).start()


def _marked_payment(realm: RealmApi) -> dict[str, Any] | None:
    payments = realm.our_bill_payments()
    return payments[0] if payments else None


def _pay_until_committed_and_hanging(
    sandbox: Sandbox, realm: RealmApi, customer: Customer, bill_id: str, amount: Decimal, account_id: str, key: str
) -> tuple[dict[str, Any], str]:
    """Start a payment whose BillPayment commits in QBO while its answer hangs; returns it and its action's id,
    once the action is seen in flight (reads pass, only the write's answer is held)."""
    writes_before = sandbox.stats(realm.realm_id)["writes"]
    sandbox.configure_faults(error_rate=1.0, kinds={"timeout_after_commit": 1.0}, timeout_seconds=HANG_SECONDS)
    _pay_in_background(customer, bill_id, amount, account_id, key)
    _until(lambda: sandbox.stats(realm.realm_id)["writes"] > writes_before, "the BillPayment to commit")
    payment = _until(lambda: _marked_payment(realm), "the BillPayment to be visible")
    action_id = str(uuid.UUID(payment["PrivateNote"].rpartition(":")[2]))
    assert customer.action(action_id)["status"] == "in_flight"
    return payment, action_id


def test_a_payment_interrupted_by_a_crash_is_settled_after_restart_without_a_duplicate(
    settings: Settings, tmp_path: Path
) -> None:
    with sandbox_server(sandbox_config(limits=False)) as sandbox:
        realm = sandbox.realm_api(sandbox.create_realm(scenario="healthy", seed=21))
        bill = realm.create_open_bills([Decimal("250.00")])[0]
        account_id = realm.bank_account_id()
        port = free_port()
        app_url = f"http://127.0.0.1:{port}"
        env = _app_env(settings, sandbox, port)
        key = f"crash-{uuid.uuid4().hex}"

        first = AppProcess(oodaloo_command("run"), env=env, log_path=tmp_path / "first.log", cwd=tmp_path)
        with running(first):
            first.wait_until_ready(f"{app_url}/readyz")
            customer = connect_customer(app_url, realm.realm_id)
            payment, action_id = _pay_until_committed_and_hanging(
                sandbox, realm, customer, bill["Id"], Decimal("250.00"), account_id, key
            )
            first.kill()
        sandbox.calm()

        second = AppProcess(oodaloo_command("run"), env=env, log_path=tmp_path / "second.log", cwd=tmp_path)
        with running(second):
            second.wait_until_ready(f"{app_url}/readyz")
            settled = _until(
                lambda: (state := customer.action(action_id))["status"] in ("succeeded", "failed") and state,
                "the reconciler to settle the action",
            )
            assert settled["status"] == "succeeded", settled
            assert settled["qbo_id"] == payment["Id"]
            # The customer's own retry with the same key is answered with that outcome, not a second payment.
            again = customer.pay(bill["Id"], Decimal("250.00"), account_id, key=key)
            assert again.status_code == 200, again.text
            assert again.json()["action_id"] == action_id
            assert again.json()["repeated"] is True
            assert again.json()["bill_payment_id"] == payment["Id"]
        customer.close()

        assert [bp["Id"] for bp in realm.our_bill_payments()] == [payment["Id"]]
        assert Decimal(str(realm.read("Bill", bill["Id"])["Balance"])) == 0
        realm.close()


def test_a_killed_process_payment_is_settled_by_a_live_process_within_a_minute(
    settings: Settings, tmp_path: Path
) -> None:
    with sandbox_server(sandbox_config(limits=False)) as sandbox:
        realm = sandbox.realm_api(sandbox.create_realm(scenario="healthy", seed=23))
        bill = realm.create_open_bills([Decimal("175.00")])[0]
        account_id = realm.bank_account_id()
        doomed_port, live_port = free_port(), free_port()
        key = f"takeover-{uuid.uuid4().hex}"

        def app(port: int, name: str) -> AppProcess:
            env = _app_env(settings, sandbox, port, quick_reconcile=False)
            return AppProcess(oodaloo_command("run"), env=env, log_path=tmp_path / f"{name}.log", cwd=tmp_path)

        doomed, live = app(doomed_port, "doomed"), app(live_port, "live")
        with running(doomed), running(live):
            doomed.wait_until_ready(f"http://127.0.0.1:{doomed_port}/readyz")  # it migrates the database first
            live.wait_until_ready(f"http://127.0.0.1:{live_port}/readyz")
            customer = connect_customer(f"http://127.0.0.1:{doomed_port}", realm.realm_id)
            payment, action_id = _pay_until_committed_and_hanging(
                sandbox, realm, customer, bill["Id"], Decimal("175.00"), account_id, key
            )
            doomed.kill()
            killed_at = time.monotonic()
            sandbox.calm()

            # The same customer, now served by the process that stayed up.
            customer.api.base_url = httpx.URL(f"http://127.0.0.1:{live_port}")
            settled = _until(
                lambda: (state := customer.action(action_id))["status"] in ("succeeded", "failed") and state,
                "the live process to settle the dead one's action",
                within=TAKEOVER_SECONDS,
            )
            settled_after = time.monotonic() - killed_at
            assert settled["status"] == "succeeded", settled
            assert settled["qbo_id"] == payment["Id"]
            assert settled_after < TAKEOVER_SECONDS
            again = customer.pay(bill["Id"], Decimal("175.00"), account_id, key=key)
            assert again.status_code == 200, again.text
            assert again.json()["repeated"] is True
            assert again.json()["bill_payment_id"] == payment["Id"]
            assert live.exit_code() is None
        customer.close()

        assert [bp["Id"] for bp in realm.our_bill_payments()] == [payment["Id"]]
        assert Decimal(str(realm.read("Bill", bill["Id"])["Balance"])) == 0
        realm.close()
