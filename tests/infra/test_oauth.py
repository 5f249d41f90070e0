"""The OAuth client against the sandbox's Intuit-style server over real HTTP: discovery, code, refresh, revoke."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oodaloo.infra.http import HttpTransport
from oodaloo.infra.oauth import OAuthClient, OAuthError, OAuthGrantRejected
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, LimitsConfig, OAuthConfig, SandboxConfig
from tests.support.servers import serve

SCOPE = "com.intuit.quickbooks.accounting"
REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    # Rotation on every refresh, old refresh tokens dead at once: the strictest reading of Intuit's rules.
    oauth = OAuthConfig(refresh_rotation_seconds=0, old_refresh_grace_seconds=0)
    config = SandboxConfig(oauth=oauth, limits=LimitsConfig(enabled=False))
    with serve(create_sandbox_app(config)) as base_url:
        yield base_url


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    transport = HttpTransport()
    yield transport
    await transport.aclose()


def client_for(transport: HttpTransport, sandbox: str, *, secret: str = DEFAULT_CLIENT_SECRET) -> OAuthClient:
    return OAuthClient(
        transport,
        discovery_url=f"{sandbox}/.well-known/openid_configuration",
        client_id=DEFAULT_CLIENT_ID,
        client_secret=secret,
    )


async def authorize(oauth: OAuthClient, state: str = "s-1") -> dict[str, str]:
    """The browser's part: open the authorize URL, consent (the sandbox consents at once), read the redirect."""
    url = await oauth.authorization_url(redirect_uri=REDIRECT_URI, scopes=[SCOPE], state=state)
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def test_code_exchange_gives_a_typed_token_set(transport: HttpTransport, sandbox: str) -> None:
    oauth = client_for(transport, sandbox)
    callback = await authorize(oauth, state="state-42")
    assert callback["state"] == "state-42"
    assert callback["realmId"]
    before = datetime.now(UTC)
    tokens = await oauth.exchange_code(callback["code"], redirect_uri=REDIRECT_URI, requested_scopes=[SCOPE])
    assert tokens.access_token
    assert tokens.refresh_token
    assert before + timedelta(minutes=59) < tokens.expires_at <= datetime.now(UTC) + timedelta(hours=1)
    assert tokens.refresh_expires_at is not None
    assert tokens.refresh_expires_at > before + timedelta(days=99)
    assert tokens.scopes == (SCOPE,)
    assert tokens.access_token not in repr(tokens)
    assert tokens.refresh_token not in repr(tokens)
    with pytest.raises(OAuthGrantRejected):  # codes are single use
        await oauth.exchange_code(callback["code"], redirect_uri=REDIRECT_URI)


async def test_refresh_rotates_and_the_superseded_refresh_token_is_rejected(
    transport: HttpTransport, sandbox: str
) -> None:
    oauth = client_for(transport, sandbox)
    first = await oauth.exchange_code((await authorize(oauth))["code"], redirect_uri=REDIRECT_URI)
    second = await oauth.refresh(first.refresh_token)
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    with pytest.raises(OAuthGrantRejected, match="invalid_grant") as raised:
        await oauth.refresh(first.refresh_token)
    assert first.refresh_token not in str(raised.value)
    third = await oauth.refresh(second.refresh_token)
    assert third.access_token != second.access_token


async def test_revoking_ends_the_grant(transport: HttpTransport, sandbox: str) -> None:
    oauth = client_for(transport, sandbox)
    tokens = await oauth.exchange_code((await authorize(oauth))["code"], redirect_uri=REDIRECT_URI)
    await oauth.revoke(tokens.refresh_token)
    with pytest.raises(OAuthGrantRejected):
        await oauth.refresh(tokens.refresh_token)


async def test_wrong_client_secret_is_an_oauth_error_without_secrets(transport: HttpTransport, sandbox: str) -> None:
    good = client_for(transport, sandbox)
    tokens = await good.exchange_code((await authorize(good))["code"], redirect_uri=REDIRECT_URI)
    bad = client_for(transport, sandbox, secret="wrong-secret-value")
    with pytest.raises(OAuthError, match="invalid_client") as raised:
        await bad.refresh(tokens.refresh_token)
    assert not isinstance(raised.value, OAuthGrantRejected)
    assert raised.value.status == 401
    message = str(raised.value)
    assert "wrong-secret-value" not in message
    assert tokens.refresh_token not in message


async def test_unreachable_server_is_an_oauth_error(transport: HttpTransport) -> None:
    with serve(Starlette()) as base_url:
        pass  # the port is free again once the server stops: nothing listens there
    oauth = client_for(transport, base_url)
    with pytest.raises(OAuthError, match="could not be reached"):
        await oauth.refresh("RT1-anything")


async def test_discovery_is_fetched_once_and_its_endpoints_are_used(transport: HttpTransport, sandbox: str) -> None:
    fetches = 0
    async with httpx.AsyncClient() as client:
        document = (await client.get(f"{sandbox}/.well-known/openid_configuration")).json()

    async def discovery(_request: Request) -> JSONResponse:
        nonlocal fetches
        fetches += 1
        return JSONResponse(document)

    app = Starlette(routes=[Route("/.well-known/openid_configuration", discovery)])
    with serve(app) as base_url:
        oauth = client_for(transport, base_url)
        url = await oauth.authorization_url(redirect_uri=REDIRECT_URI, scopes=[SCOPE], state="x")
        tokens = await oauth.exchange_code((await authorize(oauth))["code"], redirect_uri=REDIRECT_URI)
        await oauth.refresh(tokens.refresh_token)
    assert url.startswith(f"{sandbox}/connect/oauth2?")
    assert fetches == 1
