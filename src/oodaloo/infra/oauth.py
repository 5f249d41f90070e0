"""A generic OAuth 2.0 client with OpenID discovery: authorize URL, code exchange, refresh and revoke."""

# Hand-written over ``infra.http.HttpTransport`` instead of authlib or intuit-oauth: httpx is confined to infra (and
# those libraries bring their own HTTP stacks), and the protocol is a cached discovery GET plus three POSTs — the
# token endpoint's two grants (RFC 6749 §4.1.3, §6) and revocation (RFC 7009).

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from oodaloo.infra.http import HttpRequest, HttpResponse, HttpTransport, TransportError

# Discovery documents change rarely; re-read hourly so an endpoint move is picked up without a restart.
DISCOVERY_TTL_SECONDS = 3600.0
OAUTH_TIMEOUT_SECONDS = 15.0
# Server-supplied error descriptions are shown in messages, shortened.
MAX_DESCRIPTION_LENGTH = 200
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OAuthError(Exception):
    """The authorization server refused a request or could not be reached. Messages never carry secrets."""

    def __init__(self, message: str, *, error: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error = error  # the RFC 6749 ``error`` code, when the server sent one
        self.status = status


class OAuthGrantRejected(OAuthError):
    """``invalid_grant``: the code or refresh token is expired, revoked, superseded or unknown — consent is needed."""


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint answer. The token values stay out of ``repr`` so they cannot leak into logs."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    refresh_expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None


class OAuthClient:
    """One confidential client (id + secret, HTTP Basic) of one authorization server found by its discovery URL."""

    def __init__(
        self,
        transport: HttpTransport,
        *,
        discovery_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock = _utcnow,
    ) -> None:
        self._transport = transport
        self._discovery_url = discovery_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._discovery: Discovery | None = None
        self._discovered_at = 0.0
        self._discovery_lock = asyncio.Lock()

    async def discovery(self) -> Discovery:
        """The server's endpoints, fetched once per ``DISCOVERY_TTL_SECONDS``."""
        async with self._discovery_lock:
            if self._discovery is None or time.monotonic() - self._discovered_at > DISCOVERY_TTL_SECONDS:
                self._discovery = await self._fetch_discovery()
                self._discovered_at = time.monotonic()
            return self._discovery

    async def authorization_url(self, *, redirect_uri: str, scopes: Iterable[str], state: str) -> str:
        """Where to send the user's browser to consent (authorization code flow)."""
        endpoint = (await self.discovery()).authorization_endpoint
        query = urlencode(
            {
                "client_id": self.client_id,
                "response_type": "code",
                "scope": " ".join(scopes),
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{endpoint}{'&' if urlsplit(endpoint).query else '?'}{query}"

    async def exchange_code(self, code: str, *, redirect_uri: str, requested_scopes: Iterable[str] = ()) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        body = await self._token_request(form, secrets=(code,))
        return self._token_set(body, previous_refresh_token=None, requested_scopes=tuple(requested_scopes))

    async def refresh(self, refresh_token: str, *, scopes: Iterable[str] = ()) -> TokenSet:
        """New tokens; the answer's refresh token may differ from ``refresh_token`` (rotation) — store it."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        body = await self._token_request(form, secrets=(refresh_token,))
        return self._token_set(body, previous_refresh_token=refresh_token, requested_scopes=tuple(scopes))

    async def revoke(self, token: str) -> None:
        """Revoke ``token`` (refresh or access); at Intuit this disconnects the app from the company."""
        endpoint = (await self.discovery()).revocation_endpoint
        if endpoint is None:
            raise OAuthError("the authorization server offers no revocation endpoint")
        # Intuit documents a JSON body for revocation (RFC 7009 says form; Intuit's own client sends JSON).
        request = HttpRequest(
            "POST",
            endpoint,
            headers={**self._client_headers(), "Content-Type": "application/json"},
            content=json.dumps({"token": token}).encode(),
            timeout=OAUTH_TIMEOUT_SECONDS,
        )
        response = await self._send(request, "revocation")
        if not response.is_success:
            raise _error_from(response, "revocation", secrets=(token,))

    # --- internals ----------------------------------------------------------------------------

    async def _fetch_discovery(self) -> Discovery:
        request = HttpRequest(
            "GET", self._discovery_url, headers={"Accept": "application/json"}, timeout=OAUTH_TIMEOUT_SECONDS
        )
        response = await self._send(request, "discovery")
        if not response.is_success:
            raise OAuthError(f"the discovery document answered HTTP {response.status}", status=response.status)
        document = _json_object(response, "discovery")
        try:
            return Discovery(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                revocation_endpoint=str(document["revocation_endpoint"])
                if document.get("revocation_endpoint")
                else None,
            )
        except KeyError as missing:
            raise OAuthError(f"the discovery document lacks {missing.args[0]}") from None

    async def _token_request(self, form: Mapping[str, str], *, secrets: tuple[str, ...]) -> dict[str, Any]:
        endpoint = (await self.discovery()).token_endpoint
        request = HttpRequest(
            "POST",
            endpoint,
            headers={**self._client_headers(), "Content-Type": FORM_CONTENT_TYPE},
            content=urlencode(form).encode(),
            timeout=OAUTH_TIMEOUT_SECONDS,
        )
        response = await self._send(request, "token")
        if not response.is_success:
            raise _error_from(response, "token", secrets=secrets)
        return _json_object(response, "token")

    def _client_headers(self) -> dict[str, str]:
        # Intuit expects base64(id:secret) of the raw values (RFC 6749 §2.3.1 would form-encode them first;
        # the two agree for the url-safe characters client credentials use).
        credentials = base64.b64encode(f"{self.client_id}:{self._client_secret}".encode()).decode()
        return {"Authorization": f"Basic {credentials}", "Accept": "application/json"}

    async def _send(self, request: HttpRequest, endpoint_name: str) -> HttpResponse:
        try:
            return await self._transport.send(request)
        except TransportError as error:
            raise OAuthError(f"the {endpoint_name} endpoint could not be reached ({error.kind})") from None

    def _token_set(
        self, body: Mapping[str, Any], *, previous_refresh_token: str | None, requested_scopes: tuple[str, ...]
    ) -> TokenSet:
        now = self._clock()
        access_token = body.get("access_token")
        refresh_token = body.get("refresh_token") or previous_refresh_token
        expires_in = _seconds(body.get("expires_in"))
        if not isinstance(access_token, str) or not access_token or not isinstance(refresh_token, str):
            raise OAuthError("the token endpoint answered without an access token and a refresh token")
        if expires_in is None:
            raise OAuthError("the token endpoint answered without a valid expires_in")
        refresh_in = _seconds(body.get("x_refresh_token_expires_in", body.get("refresh_token_expires_in")))
        scope = body.get("scope")
        return TokenSet(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=now + timedelta(seconds=expires_in),
            refresh_expires_at=now + timedelta(seconds=refresh_in) if refresh_in is not None else None,
            # Intuit omits ``scope`` when it granted what was asked (RFC 6749 §5.1 allows that).
            scopes=tuple(scope.split()) if isinstance(scope, str) and scope else requested_scopes,
        )


def _seconds(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _json_object(response: HttpResponse, endpoint_name: str) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        raise OAuthError(f"the {endpoint_name} endpoint answered with a body that is not JSON") from None
    if not isinstance(document, dict):
        raise OAuthError(f"the {endpoint_name} endpoint answered with JSON that is not an object")
    return document


def _error_from(response: HttpResponse, endpoint_name: str, *, secrets: tuple[str, ...]) -> OAuthError:
    error: str | None = None
    description = ""
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        error = document.get("error") if isinstance(document.get("error"), str) else None
        raw = document.get("error_description")
        description = _scrub(raw, secrets) if isinstance(raw, str) else ""
    message = f"the {endpoint_name} endpoint answered HTTP {response.status}"
    if error:
        message += f" {error}"
    if description:
        message += f": {description}"
    error_type = OAuthGrantRejected if error == "invalid_grant" else OAuthError
    return error_type(message, error=error, status=response.status)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """The server's description, shortened and without any secret we sent (a careless server may echo one)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text[:MAX_DESCRIPTION_LENGTH]
