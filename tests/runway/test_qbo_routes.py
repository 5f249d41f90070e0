"""The QBO connection routes over real HTTP: the app served beside a standalone sandbox, a signed-in browser between."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from oodaloo.domains.qbo.auth import RECONNECT_MESSAGE, ConnectionService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.http import HttpTransport
from oodaloo.infra.jobs.smart_sync import ReconnectRequired
from oodaloo.main import create_app
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import LimitsConfig, SandboxConfig
from oodaloo.settings import Settings
from tests.conftest import TEST_PASSWORD, session_cookie_of, unique_email
from tests.support.servers import serve

# A callback path other than the default, to show it comes from OODALOO_QBO_REDIRECT_URI.
REDIRECT_URI = "http://127.0.0.1:9/oauth/qbo/return"


@dataclass(frozen=True)
class Served:
    app: str
    sandbox: str
    settings: Settings


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with serve(create_sandbox_app(SandboxConfig(limits=LimitsConfig(enabled=False)))) as sandbox:
        app_settings = settings.model_copy(
            update={
                "qbo_discovery_url": f"{sandbox}/.well-known/openid_configuration",
                "qbo_api_base_url": sandbox,
                "qbo_redirect_uri": REDIRECT_URI,
            }
        )
        with serve(create_app(app_settings)) as app:
            yield Served(app, sandbox, app_settings)


@dataclass
class Browser:
    """A signed-in user's browser: carries the session cookie by hand (it is Secure outside development)."""

    email: str
    session: str
    client: httpx.Client

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(url, **kwargs)


@pytest.fixture
def browsers(served: Served) -> Iterator[list[Browser]]:
    made: list[Browser] = []
    yield made
    for browser in made:
        browser.client.close()


def sign_up(served: Served, browsers: list[Browser]) -> Browser:
    email = unique_email("qbo")
    response = httpx.post(f"{served.app}/api/auth/signup", json={"email": email, "password": TEST_PASSWORD})
    assert response.status_code == 201, response.text
    return _browser(served, browsers, email, session_cookie_of(response))


def sign_in_again(served: Served, browsers: list[Browser], email: str) -> Browser:
    response = httpx.post(f"{served.app}/api/auth/signin", json={"email": email, "password": TEST_PASSWORD})
    assert response.status_code == 200, response.text
    return _browser(served, browsers, email, session_cookie_of(response))


def _browser(served: Served, browsers: list[Browser], email: str, session: str) -> Browser:
    client = httpx.Client(base_url=served.app, headers={"Cookie": f"oodaloo_session={session}"})
    browsers.append(Browser(email, session, client))
    return browsers[-1]


def new_business(owner: Browser) -> str:
    response = owner.post("/api/businesses", json={"name": "Acme Supply", "timezone": "America/New_York"})
    assert response.status_code == 201, response.text
    business_id: str = response.json()["id"]
    return business_id


def add_member(owner: Browser, business_id: str, member: Browser, role: str) -> None:
    response = owner.post(f"/api/businesses/{business_id}/members", json={"email": member.email, "role": role})
    assert response.status_code == 201, response.text


def authorize_url(browser: Browser, business_id: str) -> str:
    response = browser.get(f"/api/businesses/{business_id}/qbo/connect", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    url: str = response.json()["authorize_url"]
    return url


def consent(url: str) -> str:
    """QBO's part: the sandbox consents at once; returns the callback's path and query on our app."""
    response = httpx.get(url)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return f"{location.path}?{location.query}"


def connect(browser: Browser, business_id: str) -> None:
    response = browser.get(consent(authorize_url(browser, business_id)))
    assert response.status_code == 303, response.text


def connection(browser: Browser, business_id: str) -> dict[str, Any]:
    response = browser.get(f"/api/businesses/{business_id}/qbo/connection")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def live_grants(served: Served, realm_id: str) -> int:
    connections = httpx.get(f"{served.sandbox}/_sandbox/tokens").json()["connections"]
    return sum(1 for grant in connections if grant["realm_id"] == realm_id)


def test_the_connect_dance_links_the_business_to_the_qbo_company(served: Served, browsers: list[Browser]) -> None:
    owner = sign_up(served, browsers)
    business_id = new_business(owner)
    assert connection(owner, business_id)["status"] == "not_connected"

    redirect = owner.get(f"/api/businesses/{business_id}/qbo/connect")
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(f"{served.sandbox}/connect/oauth2?")
    callback = owner.get(consent(redirect.headers["location"]))
    assert (callback.status_code, callback.headers["location"]) == (303, "/")

    status = connection(owner, business_id)
    assert status["status"] == "connected"
    assert status["scopes"] == ["com.intuit.quickbooks.accounting"]
    assert status["access_token_expires_at"] is not None
    assert "token" not in str({k: v for k, v in status.items() if not k.endswith("expires_at")})
    assert owner.get(f"/api/businesses/{business_id}").json()["qbo_realm_id"] == status["realm_id"]
    assert live_grants(served, status["realm_id"]) >= 1


def test_an_api_client_gets_json_from_the_callback(served: Served, browsers: list[Browser]) -> None:
    owner = sign_up(served, browsers)
    business_id = new_business(owner)
    response = owner.get(consent(authorize_url(owner, business_id)), headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "connected"


@pytest.mark.parametrize("problem", ["tampered", "other_session", "signed_out", "declined"])
def test_a_callback_that_cannot_be_trusted_is_refused_with_400(
    served: Served, browsers: list[Browser], problem: str
) -> None:
    owner = sign_up(served, browsers)
    business_id = new_business(owner)
    callback = consent(authorize_url(owner, business_id))
    path = callback.partition("?")[0]
    expected = {
        "tampered": "invalid_connect_state",
        "other_session": "invalid_connect_state",
        "signed_out": "invalid_connect_state",
        "declined": "connect_declined",
    }[problem]
    if problem == "tampered":
        response = owner.get(callback.replace("state=", "state=x"))
    elif problem == "other_session":
        response = sign_in_again(served, browsers, owner.email).get(callback)
    elif problem == "signed_out":
        response = httpx.get(f"{served.app}{callback}")
    else:
        response = owner.get(f"{path}?error=access_denied&state=whatever")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == expected
    assert "again" in error["message"]
    assert "Traceback" not in response.text
    assert connection(owner, business_id)["status"] == "not_connected"
    assert owner.get(callback).status_code == 303  # the genuine callback still works afterwards


def test_roles_decide_who_may_connect_disconnect_and_read(served: Served, browsers: list[Browser]) -> None:
    owner, advisor, viewer, stranger = (sign_up(served, browsers) for _ in range(4))
    business_id = new_business(owner)
    add_member(owner, business_id, advisor, "advisor")
    add_member(owner, business_id, viewer, "viewer")

    assert viewer.get(f"/api/businesses/{business_id}/qbo/connect").status_code == 403
    assert stranger.get(f"/api/businesses/{business_id}/qbo/connection").status_code == 404
    connect(advisor, business_id)
    assert connection(viewer, business_id)["status"] == "connected"
    assert viewer.post(f"/api/businesses/{business_id}/qbo/disconnect").status_code == 403
    assert advisor.post(f"/api/businesses/{business_id}/qbo/disconnect").status_code == 403

    token = owner.post("/api/auth/tokens", json={"name": "script"}).json()["token"]
    with httpx.Client(base_url=served.app, headers={"Authorization": f"Bearer {token}"}) as api_client:
        assert api_client.get(f"/api/businesses/{business_id}/qbo/connection").status_code == 200
        refused = api_client.get(f"/api/businesses/{business_id}/qbo/connect")
        assert refused.status_code == 401
        assert "browser sign-in" in refused.json()["error"]["message"]


def test_disconnect_revokes_at_qbo_and_erases_the_tokens(served: Served, browsers: list[Browser]) -> None:
    owner = sign_up(served, browsers)
    business_id = new_business(owner)
    connect(owner, business_id)
    realm_id = connection(owner, business_id)["realm_id"]
    assert live_grants(served, realm_id) >= 1

    response = owner.post(f"/api/businesses/{business_id}/qbo/disconnect")
    assert response.status_code == 200, response.text
    status = response.json()
    assert (status["status"], status["realm_id"]) == ("disconnected", realm_id)
    assert status["access_token_expires_at"] is None
    assert status["refresh_token_expires_at"] is None
    assert live_grants(served, realm_id) == 0  # revoked at QBO
    assert connection(owner, business_id)["status"] == "disconnected"


def test_a_revoked_refresh_token_shows_as_needs_reconnect(served: Served, browsers: list[Browser]) -> None:
    owner = sign_up(served, browsers)
    business_id = new_business(owner)
    connect(owner, business_id)
    realm_id = connection(owner, business_id)["realm_id"]
    httpx.post(f"{served.sandbox}/_sandbox/tokens/revoke", json={"realm_id": realm_id}).raise_for_status()

    with pytest.raises(ReconnectRequired):
        asyncio.run(refresh_as_a_worker(served.settings, uuid.UUID(business_id)))

    status = connection(owner, business_id)
    assert (status["status"], status["message"]) == ("needs_reconnect", RECONNECT_MESSAGE)
    connect(owner, business_id)  # reconnecting restores it
    assert connection(owner, business_id)["status"] == "connected"


async def refresh_as_a_worker(settings: Settings, business_id: uuid.UUID) -> None:
    """What a worker of the same deployment (same database and keys) does when QBO refuses its access token."""
    database, transport = Database(settings.database_url), HttpTransport()
    worker = ConnectionService.create(
        sessionmaker=database.sessionmaker,
        transport=transport,
        discovery_url=settings.qbo_discovery_url,
        client_id=settings.qbo_client_id,
        client_secret=settings.qbo_client_secret.get_secret_value(),
        redirect_uri=settings.qbo_redirect_uri,
        secret_key=settings.secret_key.get_secret_value(),
        encryption_keys=None,
        redis_url=settings.redis_url,
    )
    try:
        credentials = worker.credentials(business_id)
        await credentials.refresh_after_unauthorized(await credentials.access_token())
    finally:
        await worker.aclose()
        await transport.aclose()
        await database.dispose()
