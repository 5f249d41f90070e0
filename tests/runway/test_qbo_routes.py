"""The QBO connection routes over real HTTP: the app served beside a standalone sandbox, a signed-in browser between."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from oodaloo.domains.qbo.auth import RECONNECT_MESSAGE
from oodaloo.infra.jobs.smart_sync import ReconnectRequired
from oodaloo.settings import Settings
from oodaloo.wiring import worker_runtime
from tests.conftest import Account
from tests.support.qbo import (
    Browser,
    Browsers,
    SandboxCompany,
    Served,
    add_member,
    authorize_url,
    connect,
    connection,
    consent,
    new_business,
    served_beside_a_sandbox,
)

# A callback path other than the default, to show it comes from OODALOO_QBO_REDIRECT_URI.
REDIRECT_URI = "http://127.0.0.1:9/oauth/qbo/return"


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with served_beside_a_sandbox(settings, redirect_uri=REDIRECT_URI) as (served, _):
        yield served


def live_grants(served: Served, realm_id: str) -> int:
    connections = httpx.get(f"{served.sandbox}/_sandbox/tokens").json()["connections"]
    return sum(1 for grant in connections if grant["realm_id"] == realm_id)


def test_the_connect_dance_links_the_business_to_the_qbo_company(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up()
    business_id = new_business(owner)
    assert connection(owner, business_id)["status"] == "not_connected"

    redirect = owner.get(f"/api/businesses/{business_id}/qbo/connect")
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(f"{served.sandbox}/connect/oauth2?")
    callback = owner.get(consent(redirect.headers["location"], REDIRECT_URI))
    assert (callback.status_code, callback.headers["location"]) == (303, f"/businesses/{business_id}/first-sync")

    status = connection(owner, business_id)
    assert status["status"] == "connected"
    assert status["scopes"] == ["com.intuit.quickbooks.accounting"]
    assert status["access_token_expires_at"] is not None
    assert "token" not in str({k: v for k, v in status.items() if not k.endswith("expires_at")})
    assert owner.get(f"/api/businesses/{business_id}").json()["qbo_realm_id"] == status["realm_id"]
    assert live_grants(served, status["realm_id"]) >= 1


def test_an_api_client_gets_json_from_the_callback(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up()
    business_id = new_business(owner)
    response = owner.get(
        consent(authorize_url(owner, business_id), REDIRECT_URI), headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "connected"


@pytest.mark.parametrize("problem", ["tampered", "other_session", "signed_out", "declined"])
def test_a_callback_that_cannot_be_trusted_is_refused_with_400(
    served: Served, browsers: Browsers, problem: str
) -> None:
    owner = browsers.sign_up()
    business_id = new_business(owner)
    callback = consent(authorize_url(owner, business_id), REDIRECT_URI)
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
        response = browsers.sign_in_again(owner.email).get(callback)
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


def test_roles_decide_who_may_connect_disconnect_and_read(served: Served, browsers: Browsers) -> None:
    owner, advisor, viewer, stranger = (browsers.sign_up() for _ in range(4))
    business_id = new_business(owner)
    add_member(owner, business_id, advisor, "advisor")
    add_member(owner, business_id, viewer, "viewer")

    assert viewer.get(f"/api/businesses/{business_id}/qbo/connect").status_code == 403
    assert stranger.get(f"/api/businesses/{business_id}/qbo/connection").status_code == 404
    # Connecting is acting: an advisor connects once the owner allows it.
    assert advisor.get(f"/api/businesses/{business_id}/qbo/connect").status_code == 403
    members_url = f"/api/businesses/{business_id}/members"
    advisor_id = next(member["user_id"] for member in owner.get(members_url).json() if member["email"] == advisor.email)
    assert owner.client.patch(f"{members_url}/{advisor_id}", json={"may_act": True}).status_code == 200
    connect(advisor, business_id, REDIRECT_URI)
    assert connection(viewer, business_id)["status"] == "connected"
    assert viewer.post(f"/api/businesses/{business_id}/qbo/disconnect").status_code == 403
    assert advisor.post(f"/api/businesses/{business_id}/qbo/disconnect").status_code == 403

    token = owner.post("/api/auth/tokens", json={"name": "script"}).json()["token"]
    with httpx.Client(base_url=served.app, headers={"Authorization": f"Bearer {token}"}) as api_client:
        assert api_client.get(f"/api/businesses/{business_id}/qbo/connection").status_code == 200
        refused = api_client.get(f"/api/businesses/{business_id}/qbo/connect")
        assert refused.status_code == 401
        assert "browser sign-in" in refused.json()["error"]["message"]


def test_disconnect_revokes_at_qbo_and_erases_the_tokens(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up()
    business_id = new_business(owner)
    connect(owner, business_id, REDIRECT_URI)
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


def test_a_revoked_refresh_token_shows_as_needs_reconnect(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up()
    business_id = new_business(owner)
    connect(owner, business_id, REDIRECT_URI)
    realm_id = connection(owner, business_id)["realm_id"]
    httpx.post(f"{served.sandbox}/_sandbox/tokens/revoke", json={"realm_id": realm_id}).raise_for_status()

    with pytest.raises(ReconnectRequired):
        asyncio.run(refresh_as_a_worker(served.settings, uuid.UUID(business_id)))

    status = connection(owner, business_id)
    assert (status["status"], status["message"]) == ("needs_reconnect", RECONNECT_MESSAGE)
    connect(owner, business_id, REDIRECT_URI)  # reconnecting restores it
    assert connection(owner, business_id)["status"] == "connected"


async def refresh_as_a_worker(settings: Settings, business_id: uuid.UUID) -> None:
    """What a worker of the same deployment (same database and keys) does when QBO refuses its access token."""
    runtime = await worker_runtime(settings)
    try:
        credentials = runtime.connections.credentials(business_id)
        await credentials.refresh_after_unauthorized(await credentials.access_token())
    finally:
        await runtime.aclose()


def business_name(browser: Browser, business_id: str) -> str:
    response = browser.get(f"/api/businesses/{business_id}")
    assert response.status_code == 200, response.text
    name: str = response.json()["name"]
    return name


def test_connecting_names_the_business_after_its_quickbooks_company(served: Served, browsers: Browsers) -> None:
    """The first connection names the business after QBO's ``CompanyInfo.CompanyName``; the name stays editable, and a
    later reconnect leaves it alone.

    Why a reconnect does not overwrite it: the person may have edited the name, and a reconnect only renews consent to
    the same company (the realm cannot change), so the name is already the company's unless someone chose another.
    """
    owner = browsers.sign_up()
    business_id = new_business(owner)
    company = SandboxCompany.create(served.sandbox)
    company_name = company.read("CompanyInfo", company.realm_id)["CompanyName"]
    assert company_name not in ("", "Acme Supply")

    connect(owner, business_id, REDIRECT_URI, company.realm_id)
    assert business_name(owner, business_id) == company_name

    renamed = owner.client.patch(f"/api/businesses/{business_id}", json={"name": "Brightline (books)"})
    assert renamed.status_code == 200, renamed.text
    assert business_name(owner, business_id) == "Brightline (books)"
    httpx.post(f"{served.sandbox}/_sandbox/tokens/revoke", json={"realm_id": company.realm_id}).raise_for_status()
    connect(owner, business_id, REDIRECT_URI, company.realm_id)  # reconnect
    assert connection(owner, business_id)["status"] == "connected"
    assert business_name(owner, business_id) == "Brightline (books)"
    owner.post(f"/api/businesses/{business_id}/qbo/disconnect").raise_for_status()
    connect(owner, business_id, REDIRECT_URI, company.realm_id)  # and after a disconnect
    assert business_name(owner, business_id) == "Brightline (books)"


def test_the_name_is_read_through_smartsync_and_a_failure_still_connects(served: Served, browsers: Browsers) -> None:
    owner = browsers.sign_up()
    business_id = new_business(owner)
    company = SandboxCompany.create(served.sandbox)
    before = companyinfo_reads(served, company.realm_id)
    connect(owner, business_id, REDIRECT_URI, company.realm_id)
    assert companyinfo_reads(served, company.realm_id) == before + 1  # one read, with the connection's own token

    other = SandboxCompany.create(served.sandbox)
    second = new_business(owner)
    faults = f"{served.sandbox}/_sandbox/faults"
    # QBO answers nothing but 503 for a while: the name cannot be read, the connection is made all the same.
    httpx.post(faults, json={"error_rate": 1.0, "kinds": {"503": 1.0}}).raise_for_status()
    try:
        connect(owner, second, REDIRECT_URI, other.realm_id)
    finally:
        httpx.post(faults, json={"error_rate": 0.0, "kinds": {"500": 1.0, "502": 1.0, "503": 1.0}}).raise_for_status()
    assert connection(owner, second)["status"] == "connected"
    assert business_name(owner, second) == "Acme Supply"


def companyinfo_reads(served: Served, realm_id: str) -> int:
    response = httpx.get(f"{served.sandbox}/_sandbox/stats", params={"realm_id": realm_id})
    response.raise_for_status()
    return sum(response.json()["requests"].get("companyinfo", {}).values())


def test_connecting_while_quickbooks_sign_in_cannot_be_reached_says_so_with_502(
    make_account: Callable[..., Account],
) -> None:
    """The session-wide app's QBO discovery URL points at nothing: the consent page cannot be found, and the owner is
    told QuickBooks sign-in is unreachable (no 500, no stack trace)."""
    owner = make_account("unreachable-qbo")
    created = owner.client.post("/api/businesses", json={"name": "Offline Co", "timezone": "America/New_York"})
    assert created.status_code == 201, created.text

    refused = owner.client.get(f"/api/businesses/{created.json()['id']}/qbo/connect", follow_redirects=False)

    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "qbo_sign_in_unavailable"
    assert "Traceback" not in refused.text
