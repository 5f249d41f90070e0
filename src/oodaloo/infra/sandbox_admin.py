"""A QBO sandbox's own paths, over HTTP: the test drive makes each visitor a company of their own there (create, reset,
drop) and consents on their behalf, as a person would on Intuit's consent page. Only a sandbox has these paths; the
real QBO is never asked. The sandbox is reached as QBO is, at its base URL (mounted in the app, or standalone)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from oodaloo.infra.http import HttpRequest, HttpResponse, HttpTransport, TransportError

# Creating a company seeds some 3,000 objects: under half a second alone, longer on a machine busy with other work.
ADMIN_TIMEOUT_SECONDS = 30.0
# The sandbox consents at once; anything slower is a sandbox in trouble.
CONSENT_TIMEOUT_SECONDS = 10.0
MAX_REASON_CHARS = 300
FOUND = 302
CREATED = 201
NOT_FOUND = 404
# What a server answers for a path that exists with another method: a sandbox without DELETE for its companies.
METHOD_NOT_ALLOWED = 405


@dataclass(frozen=True)
class SandboxRealm:
    """A sandbox company, as the admin paths describe it."""

    realm_id: str
    company_name: str
    scenario: str


@dataclass(frozen=True)
class Consent:
    """What the consent page sends back to the app's redirect URI: the code to exchange, the state it carried."""

    code: str
    state: str
    realm_id: str


class SandboxAdminError(Exception):
    """The sandbox did not answer, or refused. The message names the path and the sandbox's reason, never a token."""


class SandboxAdmin:
    """The admin paths of the sandbox at ``base_url`` (where its ``/v3`` API and ``/_sandbox`` paths live)."""

    def __init__(self, transport: HttpTransport, base_url: str) -> None:
        self._transport = transport
        self._base_url = base_url.rstrip("/")

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, base_url: str) -> AsyncIterator[SandboxAdmin]:
        """One with a transport of its own, closed when the block ends (test drives are made seldom)."""
        transport = HttpTransport(max_connections=4, default_timeout=ADMIN_TIMEOUT_SECONDS)
        try:
            yield cls(transport, base_url)
        finally:
            await transport.aclose()

    async def create_realm(self, scenario: str) -> SandboxRealm:
        """A new company seeded from ``scenario`` (the sandbox's own seed and size, which its scenarios are calibrated
        for)."""
        response = await self._send("POST", "/_sandbox/realms", body={"scenario": scenario})
        if response.status != CREATED:
            raise _refused("creating a company", response)
        return _realm(response.json())

    async def reset_realm(self, realm_id: str) -> SandboxRealm | None:
        """The company reseeded from its scenario, as new; None when the sandbox no longer has it (a restart without
        a state file forgets its companies)."""
        response = await self._send("POST", f"/_sandbox/realms/{realm_id}/reset")
        if response.status == NOT_FOUND:
            return None
        if not response.is_success:
            raise _refused("resetting a company", response)
        return _realm(response.json())

    async def drop_realm(self, realm_id: str) -> bool:
        """Delete the company; False when this sandbox cannot delete companies (the caller keeps it for reuse)."""
        response = await self._send("DELETE", f"/_sandbox/realms/{realm_id}")
        if response.status == METHOD_NOT_ALLOWED:
            return False
        if not response.is_success and response.status != NOT_FOUND:
            raise _refused("deleting a company", response)
        return True

    async def consent(self, authorize_url: str, realm_id: str) -> Consent:
        """Open ``authorize_url`` choosing ``realm_id``, as a person picking their company would: the sandbox consents
        at once and redirects to the app's redirect URI with the code; that redirect is read, not followed."""
        parts = urlsplit(authorize_url)
        # The transport sends ``params`` as the whole query string, so the URL's own query travels there.
        params = {**dict(parse_qsl(parts.query)), "realmId": realm_id}
        request = HttpRequest(
            "GET", urlunsplit(parts._replace(query="")), params=params, timeout=CONSENT_TIMEOUT_SECONDS
        )
        response = await self._send_request(request, "the consent page")
        location = response.headers.get("location")
        if response.status != FOUND or location is None:
            raise _refused("consenting", response)
        query = parse_qs(urlsplit(location).query)
        answer = {name: query.get(name, [""])[0] for name in ("code", "state", "realmId", "error")}
        if answer["error"] or not answer["code"]:
            raise SandboxAdminError(f"the sandbox did not consent: {answer['error'] or 'no code'}")
        return Consent(code=answer["code"], state=answer["state"], realm_id=answer["realmId"] or realm_id)

    async def _send(self, method: str, path: str, *, body: Mapping[str, Any] | None = None) -> HttpResponse:
        content = None if body is None else _json(body)
        headers = {"Content-Type": "application/json"} if content is not None else {}
        request = HttpRequest(method, self._base_url + path, headers=headers, content=content)
        return await self._send_request(request, path)

    async def _send_request(self, request: HttpRequest, what: str) -> HttpResponse:
        try:
            return await self._transport.send(request)
        except TransportError as error:
            raise SandboxAdminError(f"the sandbox did not answer ({what}): {error}") from None


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(body)).encode()


def _realm(summary: Any) -> SandboxRealm:
    return SandboxRealm(
        realm_id=str(summary["realm_id"]),
        company_name=str(summary.get("company_name") or ""),
        scenario=str(summary.get("scenario") or ""),
    )


def _refused(doing: str, response: HttpResponse) -> SandboxAdminError:
    reason = response.content[:MAX_REASON_CHARS].decode("utf-8", errors="replace")
    return SandboxAdminError(f"the sandbox refused {doing} (HTTP {response.status}): {reason}")
