"""The API gateway in front of the sandbox's /v3 app: bearer tokens, throttles, stats and injected faults."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import faults
from .chaos import Chaos, FaultKind
from .limits import UNKNOWN_APP, RealmLimiter
from .oauth import TokenRegistry
from .stats import SandboxStats

logger = logging.getLogger(__name__)

# Path segments that name an API rather than an entity; anything else is an entity name.
API_ENDPOINTS = frozenset({"query", "cdc", "batch", "reports", "companyinfo", "preferences"})
BAD_GATEWAY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
GATEWAY_TIMEOUT_HTML = (
    "<html><head><title>504 Gateway Time-out</title></head>"
    "<body><center><h1>504 Gateway Time-out</h1></center></body></html>"
)
# Bearer tokens outside this length range are "malformed", as the gateway reports them.
TOKEN_LENGTH_RANGE = range(16, 4097)


@dataclass(frozen=True)
class _Target:
    realm_id: str
    endpoint: str
    is_write: bool


def endpoint_label(segments: list[str]) -> str:
    """``query``, ``batch``, ..., ``invoice/send``, ``invoice/pdf`` or the lower-case entity name."""
    head = segments[0].lower() if segments else ""
    if head in API_ENDPOINTS:
        return head
    if len(segments) >= 3 and segments[2].lower() in ("send", "pdf"):
        return f"{head}/{segments[2].lower()}"
    return head


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :]
    return path


def _target(scope: Scope) -> _Target | None:
    parts = [p for p in _route_path(scope).split("/") if p]
    if len(parts) < 3 or parts[0] != "company":
        return None
    endpoint = endpoint_label(parts[2:])
    is_write = scope["method"] == "POST" and endpoint not in ("query", "reports", "cdc")
    return _Target(parts[1], endpoint, is_write)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


def _token_hint(token: str) -> str:
    # Enough to tell tokens apart in a log, never enough to use one.
    return token[:6] + "..."


def _data_tid() -> dict[str, str]:
    return {"intuit_tid": str(uuid.uuid4())}


def _fault_response(fault: faults.QBOFault) -> Response:
    return JSONResponse({"Fault": fault.fault_json()}, status_code=fault.status, headers=_data_tid())


def _gateway_response(status: int, body: dict[str, Any], extra_headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers={**_data_tid(), **(extra_headers or {})})


def service_unavailable_body() -> dict[str, Any]:
    """503 under load: a JSON SystemFault (the 502 and 504 bodies are HTML, like a real gateway's)."""
    return {
        "Fault": {
            "Error": [
                {
                    "Message": "Service Unavailable",
                    "Detail": "The service is temporarily unavailable. Please try again later.",
                    "code": "10001",
                    "element": "",
                }
            ],
            "type": "SystemFault",
        },
    }


class V3Gate:
    """Pure ASGI middleware mounted at ``/v3``; the wrapped app only sees authorised, admitted requests.

    Order per request: route check (404), bearer token (401/403), throttles (429), in-flight stats,
    injected latency, injected fault or the inner app. Every answer is counted in ``stats``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenRegistry,
        limiter: RealmLimiter,
        chaos: Chaos,
        stats: SandboxStats,
        retry_after_seconds: int | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.limiter = limiter
        self.chaos = chaos
        self.stats = stats
        self.retry_after_seconds = retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = _target(scope)
        if target is None:
            detail = f"Operation {_route_path(scope)} is not supported."
            fault = faults.QBOFault(404, "ValidationFault", [faults.FaultError("500", "Unsupported Operation", detail)])
            await _fault_response(fault)(scope, receive, send)
            return
        exchange = _Exchange(self, target, send)
        try:
            await self._handle(exchange, scope, receive)
        finally:
            exchange.finish()

    async def _handle(self, exchange: _Exchange, scope: Scope, receive: Receive) -> None:
        target, send = exchange.target, exchange.send
        denial = self._authorize(scope, target.realm_id)
        if denial is not None:
            await denial(scope, receive, send)
            return
        # A batch is one request to the throttles, however many items it carries (limits.py has the model).
        exchange.app_id = self._app_id(scope)
        verdict = self.limiter.acquire(target.realm_id, app_id=exchange.app_id, is_batch=target.endpoint == "batch")
        if verdict != "ok":
            self.stats.record_refusal(target.realm_id, verdict)
            await self._throttled()(scope, receive, send)
            return
        self.stats.enter(target.realm_id)
        exchange.admitted = True
        decision = self.chaos.decide(target.realm_id, is_write=target.is_write)
        if decision.latency_seconds > 0:
            await asyncio.sleep(decision.latency_seconds)
        if decision.fault is not None:
            await self._inject(decision.fault, target, scope, receive, send)
        else:
            await self._forward(scope, receive, send)

    def _authorize(self, scope: Scope, realm_id: str) -> Response | None:
        token = _bearer_token(scope)
        if token is None:
            return _gateway_response(401, faults.auth_failed_body(None))
        if len(token) not in TOKEN_LENGTH_RANGE:
            return _gateway_response(401, faults.auth_failed_body("Malformed bearer token: too short or too long"))
        verdict = self.tokens.check(token, realm_id)
        if verdict == "expired":
            return _gateway_response(401, faults.auth_failed_body(f"Token expired: {_token_hint(token)}"))
        if verdict == "invalid":
            return _gateway_response(401, faults.auth_failed_body(f"Token invalid: {_token_hint(token)}"))
        if verdict == "wrong_realm":
            return _gateway_response(403, faults.app_not_authorized_body())
        return None

    def _app_id(self, scope: Scope) -> str:
        """The client id behind the (already checked) bearer token: QBO keeps some budgets per realm and app."""
        grant = self.tokens.userinfo_subject(_bearer_token(scope) or "")
        return grant.client_id if grant is not None else UNKNOWN_APP

    def _throttled(self) -> Response:
        headers = {} if self.retry_after_seconds is None else {"Retry-After": str(self.retry_after_seconds)}
        return _gateway_response(429, faults.throttled_body(), headers)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception:
            # The inner app crashed: answer like QBO's data service would, if nothing was sent yet.
            if started:
                raise
            logger.exception("inner /v3 app failed")
            await _fault_response(faults.system_error())(scope, receive, send)

    async def _inject(self, kind: FaultKind, target: _Target, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if kind == "500":
            response = _fault_response(faults.system_error())
        elif kind == "502":
            response = HTMLResponse(BAD_GATEWAY_HTML, status_code=502, headers=_data_tid())
        elif kind == "503":
            response = _gateway_response(503, service_unavailable_body())
        elif kind == "timeout":
            await asyncio.sleep(self.chaos.config.timeout_seconds)
            response = HTMLResponse(GATEWAY_TIMEOUT_HTML, status_code=504, headers=_data_tid())
        elif kind == "lost_response":
            await self._run_discarding_response(scope, receive)
            response = HTMLResponse(BAD_GATEWAY_HTML, status_code=502, headers=_data_tid())
        elif kind == "timeout_after_commit":
            # The write commits, then the answer never arrives in time: the client times out first.
            await self._run_discarding_response(scope, receive)
            await asyncio.sleep(self.chaos.config.timeout_seconds)
            response = HTMLResponse(GATEWAY_TIMEOUT_HTML, status_code=504, headers=_data_tid())
        else:  # revoke_token
            self.tokens.revoke_realm(target.realm_id)
            response = _gateway_response(401, faults.auth_failed_body("Token revoked"))
        await response(scope, receive, send)

    async def _run_discarding_response(self, scope: Scope, receive: Receive) -> None:
        """Let the inner app do (and commit) its work; the client never sees what it answered."""

        async def discard(_message: Message) -> None:
            return None

        try:
            await self.app(scope, receive, discard)
        except Exception:
            # The client gets its 502 either way, as behind a real gateway; keep the crash visible here.
            logger.exception("inner /v3 app failed while its response was being dropped")


class _Exchange:
    """Accounting for one request, done as its response goes out rather than after it.

    The request is counted when the status line is sent, and its in-flight slot is freed just before
    the last body chunk: a client holding a complete response never sees it still running.
    """

    def __init__(self, gate: V3Gate, target: _Target, send: Send) -> None:
        self.gate = gate
        self.target = target
        self._send = send
        self.admitted = False
        self.app_id = UNKNOWN_APP
        self._finished = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.gate.stats.record_request(self.target.realm_id, self.target.endpoint, message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finish()
        await self._send(message)

    def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self.admitted:
            self.gate.stats.leave(self.target.realm_id)
            self.gate.limiter.release(self.target.realm_id, app_id=self.app_id)
