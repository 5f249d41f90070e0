"""``/_sandbox`` control paths: faults, stats, webhooks, tokens and limits, changed at run time.

They need no bearer token: the sandbox is a local tool, and these paths exist for tests, benchmarks
and demos on the developer's machine. Never expose a sandbox to a network you do not trust.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .chaos import Chaos
from .config import SandboxConfig
from .limits import RealmLimiter
from .oauth import ACCOUNTING_SCOPE, ISSUER_PATH, RealmDirectory, TokenRegistry, server_base
from .stats import SandboxStats
from .webhooks import WebhookNotifier


class AdminState(Protocol):
    """What the admin paths use of ``app.SandboxState``."""

    @property
    def config(self) -> SandboxConfig: ...

    @property
    def stats(self) -> SandboxStats: ...

    @property
    def store(self) -> RealmDirectory: ...

    @property
    def tokens(self) -> TokenRegistry: ...

    @property
    def limiter(self) -> RealmLimiter: ...

    @property
    def chaos(self) -> Chaos: ...

    @property
    def notifier(self) -> WebhookNotifier: ...


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Request], Awaitable[Response]]


def _handled(handler: Handler) -> Handler:
    """Turn ``AdminError`` and ``ValueError`` (bad settings) into JSON 4xx answers."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except AdminError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)

    return wrapper


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except ValueError:
        raise AdminError(422, "body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise AdminError(422, "body must be a JSON object")
    return payload


def _string(payload: dict[str, Any], name: str, default: str | None = None) -> str:
    value = payload.get(name, default)
    if not isinstance(value, str) or not value:
        raise AdminError(422, f"{name} must be a non-empty string")
    return value


def admin_routes(state: AdminState) -> list[BaseRoute]:
    """The ``/_sandbox`` JSON control paths for one sandbox instance."""

    def realm_from(payload: dict[str, Any], *, must_exist: bool = True) -> str:
        realm_id = _string(payload, "realm_id", state.store.default_realm_id)
        if must_exist and state.store.realm(realm_id) is None:
            raise AdminError(404, f"realm {realm_id} does not exist")
        return realm_id

    async def get_faults(_request: Request) -> Response:
        return JSONResponse(state.chaos.snapshot())

    async def set_faults(request: Request) -> Response:
        payload = await _body(request)
        payload.pop("pending_injections", None)  # accept what GET returned
        state.chaos.configure(**payload)
        return JSONResponse(state.chaos.snapshot())

    async def inject_fault(request: Request) -> Response:
        payload = await _body(request)
        count = payload.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            raise AdminError(422, "count must be an integer")
        state.chaos.inject_next(realm_from(payload), _string(payload, "kind"), count)
        return JSONResponse(state.chaos.snapshot())

    async def get_stats(request: Request) -> Response:
        return JSONResponse(state.stats.snapshot(request.query_params.get("realm_id") or None))

    async def reset_stats(request: Request) -> Response:
        payload = await _body(request)
        realm_id = payload.get("realm_id")
        if realm_id is not None and not isinstance(realm_id, str):
            raise AdminError(422, "realm_id must be a string")
        state.stats.reset(realm_id)
        return JSONResponse({"reset": realm_id or "all"})

    def webhooks_view() -> dict[str, Any]:
        return {
            "registrations": [r.as_json() for r in state.notifier.registrations()],
            "settings": vars(state.notifier.settings),
            "recent": state.notifier.recent_deliveries(),
        }

    async def get_webhooks(_request: Request) -> Response:
        return JSONResponse(webhooks_view())

    async def add_webhook(request: Request) -> Response:
        payload = await _body(request)
        registration = state.notifier.register(_string(payload, "url"), _string(payload, "format", "legacy"))
        return JSONResponse(registration.as_json(), status_code=201)

    async def remove_webhook(request: Request) -> Response:
        payload = await _body(request)
        url = request.query_params.get("url") or _string(payload, "url")
        if not state.notifier.unregister(url):
            raise AdminError(404, f"no webhook registered for {url}")
        return JSONResponse({"removed": url})

    async def webhook_settings(request: Request) -> Response:
        state.notifier.configure(**await _body(request))
        return JSONResponse(webhooks_view())

    async def get_tokens(_request: Request) -> Response:
        realm_ids = list(state.store.realm_ids())
        return JSONResponse(
            {
                "token_calls": state.tokens.token_calls,
                "refresh_calls": {realm_id: state.tokens.refresh_calls(realm_id) for realm_id in realm_ids},
                "connections": state.tokens.connections(),
            }
        )

    async def mint_token(request: Request) -> Response:
        payload = await _body(request)
        scopes = payload.get("scopes", [ACCOUNTING_SCOPE])
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise AdminError(422, "scopes must be a list of strings or a space-separated string")
        issuer = server_base(request) + ISSUER_PATH
        return JSONResponse(state.tokens.mint(realm_from(payload), scopes, issuer=issuer))

    async def expire_tokens(request: Request) -> Response:
        realm_id = realm_from(await _body(request), must_exist=False)
        return JSONResponse({"realm_id": realm_id, "expired": state.tokens.expire_access_tokens(realm_id)})

    async def revoke_tokens(request: Request) -> Response:
        realm_id = realm_from(await _body(request), must_exist=False)
        state.tokens.revoke_realm(realm_id)
        return JSONResponse({"realm_id": realm_id, "revoked": True})

    async def get_limits(_request: Request) -> Response:
        return JSONResponse(state.limiter.snapshot())

    async def set_limits(request: Request) -> Response:
        payload = await _body(request)
        reset = payload.pop("reset", False)
        if not isinstance(reset, bool):
            raise AdminError(422, "reset must be true or false")
        state.limiter.configure(**payload)
        if reset:
            state.limiter.reset()
        return JSONResponse(state.limiter.snapshot())

    routes: list[tuple[str, Handler, str]] = [
        ("/_sandbox/faults", get_faults, "GET"),
        ("/_sandbox/faults", set_faults, "POST"),
        ("/_sandbox/faults/inject", inject_fault, "POST"),
        ("/_sandbox/stats", get_stats, "GET"),
        ("/_sandbox/stats/reset", reset_stats, "POST"),
        ("/_sandbox/webhooks", get_webhooks, "GET"),
        ("/_sandbox/webhooks", add_webhook, "POST"),
        ("/_sandbox/webhooks", remove_webhook, "DELETE"),
        ("/_sandbox/webhooks/settings", webhook_settings, "POST"),
        ("/_sandbox/tokens", get_tokens, "GET"),
        ("/_sandbox/tokens", mint_token, "POST"),
        ("/_sandbox/tokens/expire", expire_tokens, "POST"),
        ("/_sandbox/tokens/revoke", revoke_tokens, "POST"),
        ("/_sandbox/limits", get_limits, "GET"),
        ("/_sandbox/limits", set_limits, "POST"),
    ]
    return _merge_methods(routes)


def _merge_methods(routes: list[tuple[str, Handler, str]]) -> list[BaseRoute]:
    """One ``Route`` per path dispatching on method, so a wrong method gets 405 rather than 404."""
    by_path: dict[str, dict[str, Handler]] = {}
    for path, handler, method in routes:
        by_path.setdefault(path, {})[method] = _handled(handler)

    def dispatcher(handlers: dict[str, Handler]) -> Handler:
        async def dispatch(request: Request) -> Response:
            # Starlette adds HEAD to GET routes; answer it like GET.
            handler = handlers.get(request.method) or handlers["GET"]
            return await handler(request)

        return dispatch

    return [Route(path, dispatcher(handlers), methods=list(handlers)) for path, handlers in by_path.items()]
