"""The app started as production, as an OS process (``uvicorn oodaloo.main:app``, ``oodaloo run``): no embedded QBO
sandbox, no demo user or business, and a clear refusal to start when the sandbox is asked for."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from oodaloo.domains.core.models import Business, User
from oodaloo.infra.db.engine import Database
from oodaloo.migrations import upgrade_to_head
from oodaloo.settings import EMBEDDED_SANDBOX_IN_PRODUCTION, SANDBOX_QBO_CLIENT_SECRET
from tests.conftest import new_database_url
from tests.support.app_process import (
    AppProcess,
    app_settings_env,
    free_port,
    oodaloo_command,
    python_module_command,
    running,
)
from tests.support.production import PRODUCTION_QBO_CLIENT_SECRET, STRONG_SECRET_KEY, production_values

# Start-up (imports, settings, no migrations) takes a couple of seconds; a refusal comes before any of it is served.
REFUSAL_TIMEOUT_SECONDS = 60.0
DEMO_REALM_ID = "9130357012345678"  # the embedded sandbox's realm, which the demo business would be linked to


def _production_env(port: int, database_url: str, **overrides: Any) -> dict[str, str]:
    values = production_values(**overrides)
    return app_settings_env(port=port, database_url=database_url, log_level="WARNING", **values)


def _uvicorn_command(port: int) -> list[str]:
    return python_module_command("uvicorn", "oodaloo.main:app", "--host", "127.0.0.1", "--port", str(port))


async def _count_rows(database_url: str) -> dict[str, int]:
    database = Database(database_url)
    try:
        async with database.session() as session:
            users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
            businesses = (await session.execute(select(func.count()).select_from(Business))).scalar_one()
            return {"users": int(users), "businesses": int(businesses)}
    finally:
        await database.dispose()


@pytest.fixture
def production_database(tmp_path: Path, worker_id: str) -> str:
    """An empty, migrated database: production never migrates on start-up (``oodaloo migrate`` is a deploy step)."""
    url = new_database_url(tmp_path, f"oodaloo_test_{worker_id}_production")
    upgrade_to_head(url)
    return url


def test_production_mounts_no_sandbox_and_makes_no_demo_data(production_database: str, tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = _production_env(port, production_database)
    app = AppProcess(_uvicorn_command(port), env=env, log_path=tmp_path / "app.log", cwd=tmp_path)
    with running(app), httpx.Client(base_url=base_url) as visitor:
        app.wait_until_ready(f"{base_url}/readyz")
        # What the embedded sandbox would answer to anyone: token minting, fault injection, OAuth discovery.
        minted = visitor.post("/qbo-sandbox/_sandbox/tokens", json={"realm_id": DEMO_REALM_ID})
        faults = visitor.post("/qbo-sandbox/_sandbox/faults", json={"error_rate": 1.0})
        discovery = visitor.get("/qbo-sandbox/.well-known/openid_configuration")
        assert (minted.status_code, faults.status_code, discovery.status_code) == (404, 404, 404)
        assert "access_token" not in minted.text

        # No demo user to continue as, even for a visitor on the machine itself.
        signin = visitor.get("/signin")
        assert signin.status_code == 200
        assert "demo user" not in signin.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', signin.text)
        assert token is not None
        refused = visitor.post("/signin/demo", data={"csrf_token": token.group(1)})
        assert refused.status_code == 403
        assert "oodaloo_session" not in refused.headers.get("set-cookie", "")

    assert asyncio.run(_count_rows(production_database)) == {"users": 0, "businesses": 0}
    assert not (tmp_path / "var").exists()  # nor the sandbox's state file


@pytest.mark.parametrize("command", ["uvicorn", "oodaloo run"])
def test_production_refuses_to_start_with_the_embedded_sandbox(
    command: str, production_database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = _production_env(port, production_database, embedded_sandbox=True)
    argv = _uvicorn_command(port) if command == "uvicorn" else oodaloo_command("run")
    app = AppProcess(argv, env=env, log_path=tmp_path / "app.log", cwd=tmp_path).start()

    exit_code = app.wait(REFUSAL_TIMEOUT_SECONDS)

    output = app.output()
    assert exit_code != 0, output
    assert EMBEDDED_SANDBOX_IN_PRODUCTION in output
    for secret in (STRONG_SECRET_KEY, PRODUCTION_QBO_CLIENT_SECRET, SANDBOX_QBO_CLIENT_SECRET):
        assert secret not in output
    assert asyncio.run(_count_rows(production_database)) == {"users": 0, "businesses": 0}
