"""The ``oodaloo`` command: help texts, migrations against a real database, sandbox options."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oodaloo.cli import app, sandbox_config_from_options
from oodaloo.migrations import current_revision, head_revision
from oodaloo.settings import EMBEDDED_SANDBOX_IN_PRODUCTION, SANDBOX_QBO_CLIENT_SECRET, Settings
from tests.conftest import new_database_url
from tests.domains.qbo.bulk_support import Fleet, fleet

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "migrate", "check-migrations", "sandbox", "sync"):
        assert command in result.output


def test_sandbox_help_documents_the_defaults() -> None:
    result = runner.invoke(app, ["sandbox", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for expected in ("--client-id", "--redirect-uri", "--error-rate", "--webhook-url", "8765", "healthy", "42"):
        assert expected in result.output


def test_run_help_shows_where_the_defaults_come_from() -> None:
    result = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0
    # Once, rich took "[default: …]" in the help text for markup and printed "Interface to listen on ."
    assert "listen on ." not in result.output
    assert "OODALOO_HOST or 127.0.0.1" in result.output
    assert "OODALOO_PORT or 8000" in result.output


def test_run_refuses_production_settings_naming_each_problem_without_secrets() -> None:
    weak_key = "a" * 32
    env = {"OODALOO_ENVIRONMENT": "production", "OODALOO_SECRET_KEY": weak_key, "OODALOO_EMBEDDED_SANDBOX": "true"}
    result = runner.invoke(app, ["run"], env=env)
    assert result.exit_code == 2
    assert "Oodaloo cannot start with these settings" in result.output
    assert EMBEDDED_SANDBOX_IN_PRODUCTION in result.output
    assert "OODALOO_SECRET_KEY is too predictable" in result.output
    assert "OODALOO_QBO_CLIENT_SECRET" in result.output
    assert "Traceback" not in result.output
    assert weak_key not in result.output
    assert SANDBOX_QBO_CLIENT_SECRET not in result.output


def test_sandbox_refuses_an_unknown_scenario() -> None:
    result = runner.invoke(app, ["sandbox", "--scenario", "bankrupt"])
    assert result.exit_code != 0
    assert "bankrupt" in result.output


def test_sandbox_options_become_the_sandbox_config(tmp_path: Path) -> None:
    config = sandbox_config_from_options(
        client_id="my-client",
        client_secret="my-secret",
        redirect_uris=["https://app.example.com/callback"],
        scenario="crisis",
        state=tmp_path / "state.json",
        seed=7,
        size=300,
        realm_id="123",
        latency_ms=150.0,
        jitter_ms=20.0,
        error_rate=0.1,
        webhook_urls=["http://127.0.0.1:9/hook"],
        verifier_token="verify-me",
    )
    assert config.oauth.client_id == "my-client"
    assert config.oauth.redirect_uris == ["https://app.example.com/callback"]
    assert (config.scenario, config.seed, config.size, config.realm_id) == ("crisis", 7, 300, "123")
    assert (config.faults.latency_ms, config.faults.jitter_ms, config.faults.error_rate) == (150.0, 20.0, 0.1)
    assert config.webhook_urls == ["http://127.0.0.1:9/hook"]
    assert config.state_file == tmp_path / "state.json"


def test_migrate_then_check_migrations_through_the_console_script(tmp_path: Path, worker_id: str) -> None:
    url = new_database_url(tmp_path, f"oodaloo_test_{worker_id}_cli")
    env = {**os.environ, "OODALOO_DATABASE_URL": url}
    script = Path(sys.executable).parent / "oodaloo"

    migrated = subprocess.run([script, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert migrated.returncode == 0, migrated.stderr
    assert current_revision(url) == head_revision()
    assert f"revision {head_revision()}" in migrated.stdout

    checked = runner.invoke(app, ["check-migrations"], env={"OODALOO_DATABASE_URL": url})
    assert checked.exit_code == 0, checked.output
    assert "agree" in checked.output


def test_worker_and_scheduler_are_listed() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "worker" in result.output
    assert "scheduler" in result.output


def test_worker_and_scheduler_need_a_redis_url() -> None:
    for command in ("worker", "scheduler"):
        result = runner.invoke(app, [command], env={"OODALOO_REDIS_URL": ""})
        assert result.exit_code == 2, result.output
        assert "OODALOO_REDIS_URL" in result.output


# ------------------------------------------------------------------------------------------------ oodaloo sync
def _sync_env(settings: Settings) -> dict[str, str]:
    """The environment that gives ``oodaloo sync`` the served app's settings (its database, secret key, QBO)."""
    env = {
        "OODALOO_ENVIRONMENT": settings.environment,
        "OODALOO_DATABASE_URL": settings.database_url,
        "OODALOO_SECRET_KEY": settings.secret_key.get_secret_value(),
        "OODALOO_QBO_API_BASE_URL": settings.qbo_api_base_url,
        "OODALOO_QBO_DISCOVERY_URL": settings.qbo_discovery_url,
        "OODALOO_QBO_REDIRECT_URI": settings.qbo_redirect_uri,
        "OODALOO_REDIS_URL": settings.redis_url or "",
        "OODALOO_LOG_LEVEL": "ERROR",
    }
    return env


@pytest.fixture
def businesses(settings: Settings, tmp_path: Path, worker_id: str) -> Iterator[Fleet]:
    with fleet(settings, tmp_path, f"oodaloo_cli_sync_{worker_id}") as found:
        yield found


def test_sync_all_through_the_console_script_syncs_each_connected_business_with_a_progress_bar(
    businesses: Fleet,
) -> None:
    healthy, failing = businesses.add_business(), businesses.add_business()
    businesses.revoke_tokens(failing)
    script = Path(sys.executable).parent / "oodaloo"

    synced = subprocess.run(
        [script, "sync", "--all"],
        env={**os.environ, **_sync_env(businesses.settings)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert synced.returncode == 1, synced.stderr  # one business failed
    assert "Traceback" not in synced.stderr
    assert "Syncing" in synced.stderr  # the progress bar
    assert "2/2" in synced.stderr
    lines = {line.split()[1]: line for line in synced.stdout.splitlines() if line.startswith(("ok", "FAILED"))}
    assert lines[str(healthy)].startswith("ok")
    assert " full " in lines[str(healthy)]
    assert lines[str(failing)].startswith("FAILED")
    assert "reconnect" in lines[str(failing)]
    assert "Synced 1 of 2 businesses." in synced.stdout
    businesses.harness(healthy).assert_mirror_equals_sandbox()

    again = runner.invoke(app, ["sync", str(healthy)], env=_sync_env(businesses.settings))

    assert again.exit_code == 0, again.output
    assert " cdc " in again.output  # synced before: incremental now
    assert "Synced 1 of 1 businesses." in again.output


def test_sync_refuses_an_unknown_or_unconnected_business_clearly(businesses: Fleet) -> None:
    unconnected = businesses.add_business(connected=False)
    unknown = uuid.uuid4()
    env = _sync_env(businesses.settings)

    for business_id, expected in ((unknown, f"No business has the id {unknown}"), (unconnected, "not connected")):
        result = runner.invoke(app, ["sync", str(business_id)], env=env)
        assert result.exit_code == 2, result.output
        assert expected in result.output
        assert "Traceback" not in result.output
    for arguments, expected in ((["sync"], "BUSINESS_ID or --all"), (["sync", "nope"], "is not a business id")):
        result = runner.invoke(app, arguments, env=env)
        assert result.exit_code == 2, result.output
        assert expected in result.output
