"""Fixtures for sandbox tests: a whole sandbox app on a loopback port and bearer-token clients for its realms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from oodaloo.sandbox.app import SandboxState, create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from tests.support.servers import Swappable, serve


def make_config(**overrides: Any) -> SandboxConfig:
    """A small, fast sandbox config; throttling off so tests may fire requests back to back."""
    base = SandboxConfig(limits=LimitsConfig(enabled=False))
    return replace(base, **overrides)


@dataclass
class RunningSandbox:
    """A sandbox served over real HTTP; ``client()`` gives a token-bearing client rooted at a realm's v3 URL."""

    base_url: str
    app: Starlette
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.sandbox
        return state

    @property
    def realm_id(self) -> str:
        return self.state.store.default_realm_id

    def admin(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=30)
        self._clients.append(client)
        return client

    def token(self, realm_id: str | None = None) -> str:
        with httpx.Client(base_url=self.base_url, timeout=30) as admin:
            response = admin.post("/_sandbox/tokens", json={"realm_id": realm_id or self.realm_id})
            response.raise_for_status()
            token: str = response.json()["access_token"]
            return token

    def client(self, realm_id: str | None = None) -> httpx.Client:
        realm = realm_id or self.realm_id
        client = httpx.Client(
            base_url=f"{self.base_url}/v3/company/{realm}",
            headers={"Authorization": f"Bearer {self.token(realm)}", "Accept": "application/json"},
            timeout=30,
        )
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    """Override in a test module to serve a differently configured sandbox."""
    return make_config()


@pytest.fixture(scope="module")
def sandbox(sandbox_config: SandboxConfig) -> Iterator[RunningSandbox]:
    """The whole sandbox app (OAuth, gate, /v3, admin) served once per test module."""
    app = create_sandbox_app(sandbox_config)
    with serve(app) as base_url:
        running = RunningSandbox(base_url, app)
        try:
            yield running
        finally:
            running.close()


@pytest.fixture(scope="module")
def qbo(sandbox: RunningSandbox) -> httpx.Client:
    """A client for the demo realm's ``/v3/company/{realmId}`` with a valid bearer token."""
    return sandbox.client()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Swappable, str]]:
    """One loopback server per module whose app each test swaps in."""
    swappable = Swappable()
    with serve(swappable) as base:
        yield swappable, base
