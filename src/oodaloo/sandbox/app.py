"""Assembles the sandbox ASGI app: OAuth, the gated ``/v3`` API, and the ``/_sandbox`` admin paths."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount

from .admin import admin_routes
from .admin_realms import realm_admin_routes
from .api import build_v3_app
from .chaos import Chaos
from .config import SandboxConfig
from .gate import V3Gate
from .limits import RealmLimiter
from .oauth import TokenRegistry, oauth_routes
from .stats import SandboxStats
from .store import Store
from .webhooks import WebhookNotifier


class SandboxState:
    """Everything one sandbox instance holds; reachable as ``app.state.sandbox``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.stats = SandboxStats()
        self.store = Store(config, self.stats)
        self.tokens = TokenRegistry(config.oauth)
        self.limiter = RealmLimiter(config.limits)
        self.chaos = Chaos(config.faults)
        self.notifier = WebhookNotifier(config, self.stats)
        self.store.subscribe(self.notifier.on_change)


def create_sandbox_app(config: SandboxConfig | None = None) -> Starlette:
    """A standalone or mountable sandbox. The demo realm is seeded (or loaded from the state file)."""
    state = SandboxState(config or SandboxConfig())
    state.store.ensure_demo_realm()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await state.notifier.start()
        try:
            yield
        finally:
            await state.notifier.stop()
            state.store.save()

    v3 = V3Gate(
        build_v3_app(state.store, state.stats),
        tokens=state.tokens,
        limiter=state.limiter,
        chaos=state.chaos,
        stats=state.stats,
    )
    routes = [
        *oauth_routes(state.tokens, state.store),
        *realm_admin_routes(state.store),
        *admin_routes(state),
        Mount("/v3", app=v3),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = state
    return app
