"""Outbound HTTP for SmartSync: one pooled httpx client behind plain request/response values and one error type."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from oodaloo.infra.exact_json import loads_exact

DEFAULT_MAX_CONNECTIONS = 50
DEFAULT_TIMEOUT_SECONDS = 30.0
# Idle pooled connections are dropped before QBO's load balancers would (they close idle ones after about a minute).
KEEPALIVE_EXPIRY_SECONDS = 30.0
USER_AGENT = "oodaloo/1.0"

TransportErrorKind = Literal["timeout", "connect", "protocol"]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # names in lower case
    content: bytes
    elapsed_seconds: float

    def json(self) -> Any:
        """The body as JSON, numbers with a fraction as Decimal (amounts must never pass through float). Raises
        ValueError when the body is not JSON."""
        try:
            return loads_exact(self.content)
        except ValueError as error:
            raise ValueError(f"the response body is not JSON: {error}") from error

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


class TransportError(Exception):
    """No HTTP response was had.

    ``kind`` says how far the request got: ``connect`` — it never left (no connection, or none free in the pool), so
    the server cannot have seen it; ``timeout`` — sent, no answer in time; ``protocol`` — the exchange broke off.
    The message names the method, host and path only: never the query string, headers or body (tokens, request ids).
    """

    def __init__(self, kind: TransportErrorKind, request: HttpRequest, cause: Exception) -> None:
        super().__init__(f"{kind} error on {request.method} {_safe_target(request.url)}: {type(cause).__name__}")
        self.kind: TransportErrorKind = kind


class HttpTransport:
    """One pooled ``httpx.AsyncClient`` for every outbound call.

    Proxy settings from the environment are ignored (``trust_env=False``): calls to the embedded sandbox on loopback
    must never be routed through a proxy, and QBO is reached directly. Redirects are not followed: QBO does not
    redirect API calls, and following one could carry the bearer token to another host.
    """

    def __init__(
        self, *, max_connections: int = DEFAULT_MAX_CONNECTIONS, default_timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            ),
            timeout=default_timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def send(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        try:
            response = await self._client.request(
                request.method,
                request.url,
                params=dict(request.params),
                headers=dict(request.headers),
                content=request.content,
                timeout=request.timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise TransportError("connect", request, error) from None
        except httpx.TimeoutException as error:
            raise TransportError("timeout", request, error) from None
        except httpx.TransportError as error:
            raise TransportError("protocol", request, error) from None
        # `from None`: httpx's own exceptions carry the full request, query string included, in their context.
        return HttpResponse(
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            content=response.content,
            elapsed_seconds=time.monotonic() - started,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _safe_target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
