"""The sandbox OAuth server over real HTTP: discovery, the authorize/token dance, refresh rotation, revoke, userinfo."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from oodaloo.sandbox.chaos import Chaos
from oodaloo.sandbox.config import FaultConfig, LimitsConfig, OAuthConfig
from oodaloo.sandbox.gate import V3Gate
from oodaloo.sandbox.limits import RealmLimiter
from oodaloo.sandbox.oauth import ACCOUNTING_SCOPE, TokenRegistry, oauth_routes
from oodaloo.sandbox.stats import SandboxStats
from tests.sandbox.conftest import RunningSandbox
from tests.support.servers import Swappable, serve

REALM = "4620816365000001"
OTHER_REALM = "4620816365000002"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
REDIRECT = "http://127.0.0.1:9/callback"
TID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class TwoRealmStore:
    """The slice of the sandbox store OAuth needs: which realms exist, and the default."""

    default_realm_id: str = REALM
    realms: dict[str, object] = field(default_factory=lambda: {REALM: object(), OTHER_REALM: object()})

    def realm(self, realm_id: str) -> object | None:
        return self.realms.get(realm_id)

    def realm_ids(self) -> list[str]:
        return list(self.realms)


async def company_info(request: Request) -> JSONResponse:
    realm_id = request.path_params["realm_id"]
    return JSONResponse({"CompanyInfo": {"Id": "1", "CompanyName": f"Realm {realm_id}"}})


def build_app(tokens: TokenRegistry) -> Starlette:
    data = Starlette(routes=[Route("/company/{realm_id}/companyinfo/{id}", company_info)])
    gate = V3Gate(
        data,
        tokens=tokens,
        limiter=RealmLimiter(LimitsConfig()),
        chaos=Chaos(FaultConfig()),
        stats=SandboxStats(),
    )
    return Starlette(routes=[*oauth_routes(tokens, TwoRealmStore()), Mount("/v3", app=gate)])


@dataclass
class IdentityProvider:
    base: str
    http: httpx.Client
    tokens: TokenRegistry
    clock: FakeClock


def make_tokens(clock: FakeClock, **overrides: object) -> TokenRegistry:
    config = OAuthConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **overrides)  # type: ignore[arg-type]
    return TokenRegistry(config, clock=clock)


@pytest.fixture
def idp(request: pytest.FixtureRequest, server: tuple[Swappable, str]) -> Iterator[IdentityProvider]:
    overrides = getattr(request, "param", {})
    clock = FakeClock()
    tokens = make_tokens(clock, **overrides)
    swappable, base = server
    swappable.app = build_app(tokens)
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        yield IdentityProvider(base, http, tokens, clock)


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


def authorize(sb: IdentityProvider, scope: str = ACCOUNTING_SCOPE, **extra: str) -> httpx.Response:
    params = {"client_id": CLIENT_ID, "response_type": "code", "scope": scope, "redirect_uri": REDIRECT}
    params.update(state="csrf-123", **extra)
    return sb.http.get("/connect/oauth2", params=params)


def callback_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(sb: IdentityProvider, code: str, *, headers: dict[str, str] | None = None, **form: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **form}
    return sb.http.post("/oauth2/v1/tokens/bearer", data=data, headers=headers if headers is not None else basic())


def refresh(sb: IdentityProvider, refresh_token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return sb.http.post("/oauth2/v1/tokens/bearer", data=data, headers=basic())


def company(sb: IdentityProvider, access_token: str, realm_id: str = REALM) -> httpx.Response:
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    return sb.http.get(f"/v3/company/{realm_id}/companyinfo/{realm_id}", headers=headers)


def connect(sb: IdentityProvider, scope: str = ACCOUNTING_SCOPE) -> dict[str, object]:
    code = callback_params(authorize(sb, scope))["code"]
    response = exchange(sb, code)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


# --- discovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/openid_configuration",
        "/.well-known/openid_configuration/",
        "/.well-known/openid_sandbox_configuration",
        "/.well-known/openid-sandbox-configuration",
    ],
)
def test_discovery_points_every_endpoint_at_this_server(idp: IdentityProvider, path: str) -> None:
    doc = idp.http.get(path).json()
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint", "userinfo_endpoint"):
        assert doc[key].startswith(idp.base + "/"), key
    assert doc["token_endpoint"] == idp.base + "/oauth2/v1/tokens/bearer"
    assert doc["jwks_uri"] == idp.base + "/op/v1/jwks"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_post", "client_secret_basic"}


def test_discovery_urls_include_the_mount_prefix() -> None:
    tokens = make_tokens(FakeClock())
    outer = Starlette(routes=[Mount("/qbo-sandbox", app=build_app(tokens))])
    with serve(outer) as base:
        doc = httpx.get(base + "/qbo-sandbox/.well-known/openid_configuration").json()
        assert doc["token_endpoint"] == base + "/qbo-sandbox/oauth2/v1/tokens/bearer"
        # The advertised URL works as given.
        answer = httpx.post(doc["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": "x"})
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"


# --- the full dance -----------------------------------------------------------------------------


def test_full_dance_code_to_data_to_refresh_to_revoke(idp: IdentityProvider) -> None:
    callback = callback_params(authorize(idp))
    assert callback["state"] == "csrf-123"
    assert callback["realmId"] == REALM

    response = exchange(idp, callback["code"])
    assert response.status_code == 200
    assert TID.match(response.headers["intuit_tid"])
    first = response.json()
    assert first["token_type"] == "bearer"
    assert first["expires_in"] == 3600
    assert first["x_refresh_token_expires_in"] == 100 * 24 * 3600
    assert "id_token" not in first
    assert company(idp, first["access_token"]).json()["CompanyInfo"]["CompanyName"] == f"Realm {REALM}"

    # An hour later the access token is expired; the gateway says so without echoing the token.
    idp.clock.advance(3600)
    expired = company(idp, first["access_token"])
    assert expired.status_code == 401
    error = expired.json()["fault"]["error"][0]
    assert error["code"] == "3200"
    assert error["detail"].startswith("Token expired: ")
    assert first["access_token"] not in expired.text

    # Refreshing a day after issue rotates the refresh token; the superseded one is dead at once.
    idp.clock.advance(24 * 3600)
    second = refresh(idp, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert company(idp, second["access_token"]).status_code == 200
    stale = refresh(idp, first["refresh_token"])
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"
    assert idp.tokens.refresh_calls(REALM) == 1

    revoked = idp.http.post("/v2/oauth2/tokens/revoke", json={"token": second["refresh_token"]}, headers=basic())
    assert revoked.status_code == 200
    assert company(idp, second["access_token"]).status_code == 401
    assert refresh(idp, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_client_credentials_in_the_form_work_like_basic(idp: IdentityProvider) -> None:
    code = callback_params(authorize(idp))["code"]
    response = exchange(idp, code, headers={"Accept": "*/*"}, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert response.status_code == 200
    assert company(idp, response.json()["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [basic(secret="wrong"), basic(client_id="someone-else"), {"Accept": "application/json"}],
    ids=["wrong-secret", "wrong-client", "no-credentials"],
)
def test_bad_client_credentials_get_invalid_client(idp: IdentityProvider, headers: dict[str, str]) -> None:
    code = callback_params(authorize(idp))["code"]
    response = exchange(idp, code, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # The code was not burnt by the failed attempt.
    assert exchange(idp, code).status_code == 200


def test_codes_are_single_use_and_replay_revokes_the_tokens(idp: IdentityProvider) -> None:
    code = callback_params(authorize(idp))["code"]
    tokens = exchange(idp, code).json()
    replay = exchange(idp, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert company(idp, tokens["access_token"]).status_code == 401


def test_codes_expire_and_must_match_the_redirect_uri(idp: IdentityProvider) -> None:
    code = callback_params(authorize(idp))["code"]
    mismatch = exchange(idp, code, redirect_uri="http://127.0.0.1:9/other")
    assert mismatch.json()["error"] == "invalid_grant"
    late = callback_params(authorize(idp))["code"]
    idp.clock.advance(601)
    assert exchange(idp, late).json()["error"] == "invalid_grant"


def test_malformed_token_requests(idp: IdentityProvider) -> None:
    url = "/oauth2/v1/tokens/bearer"
    unsupported = idp.http.post(url, data={"grant_type": "password"}, headers=basic())
    assert (unsupported.status_code, unsupported.json()["error"]) == (400, "unsupported_grant_type")
    missing = idp.http.post(url, data={"grant_type": "refresh_token"}, headers=basic())
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    unknown = refresh(idp, "RT1-never-issued")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    assert "error_description" in unknown.json()


# --- authorization endpoint -----------------------------------------------------------------------


def test_authorize_approves_a_named_realm_and_denies_an_unknown_one(idp: IdentityProvider) -> None:
    other = callback_params(authorize(idp, realmId=OTHER_REALM))
    assert other["realmId"] == OTHER_REALM
    access = exchange(idp, other["code"]).json()["access_token"]
    assert company(idp, access, OTHER_REALM).status_code == 200
    # A token is bound to its realm: another realm answers 403 ApplicationAuthorizationFailed.
    wrong = company(idp, access, REALM)
    assert wrong.status_code == 403
    assert wrong.json()["fault"]["error"][0]["code"] == "3100"

    denied = callback_params(authorize(idp, realm_id="999"))
    assert denied == {"error": "access_denied", "state": "csrf-123"}


def test_authorize_never_redirects_to_an_unregistered_uri(idp: IdentityProvider) -> None:
    params = {"client_id": CLIENT_ID, "response_type": "code", "scope": ACCOUNTING_SCOPE, "state": "s"}
    evil = idp.http.get("/connect/oauth2", params={**params, "redirect_uri": "https://evil.example/cb"})
    assert evil.status_code == 400
    assert "location" not in evil.headers
    unknown_client = idp.http.get("/connect/oauth2", params={**params, "client_id": "nope", "redirect_uri": REDIRECT})
    assert unknown_client.status_code == 400
    assert "text/html" in unknown_client.headers["content-type"]


@pytest.mark.parametrize(
    "idp", [{"redirect_uris": ["https://app.example/cb"], "allow_loopback_redirects": False}], indirect=True
)
def test_registered_redirects_only_when_loopback_is_off(idp: IdentityProvider) -> None:
    params = {"client_id": CLIENT_ID, "response_type": "code", "scope": ACCOUNTING_SCOPE, "state": "s"}
    assert idp.http.get("/connect/oauth2", params={**params, "redirect_uri": REDIRECT}).status_code == 400
    ok = idp.http.get("/connect/oauth2/companyselection", params={**params, "redirect_uri": "https://app.example/cb"})
    assert ok.status_code == 302
    assert ok.headers["location"].startswith("https://app.example/cb?code=")


def test_authorize_rejects_bad_scope_and_response_type_by_redirect(idp: IdentityProvider) -> None:
    assert callback_params(authorize(idp, scope="profile"))["error"] == "invalid_scope"
    bad_type = idp.http.get(
        "/connect/oauth2",
        params={
            "client_id": CLIENT_ID,
            "response_type": "token",
            "scope": ACCOUNTING_SCOPE,
            "redirect_uri": REDIRECT,
        },
    )
    assert callback_params(bad_type)["error"] == "unsupported_response_type"


# --- refresh rotation settings ------------------------------------------------------------------


def test_refresh_within_the_rotation_period_returns_the_same_token(idp: IdentityProvider) -> None:
    first = connect(idp)
    idp.clock.advance(3600)
    again = refresh(idp, str(first["refresh_token"])).json()
    assert again["refresh_token"] == first["refresh_token"]
    assert again["access_token"] != first["access_token"]
    # Rolling expiry: the refresh restarted the 100-day clock.
    assert again["x_refresh_token_expires_in"] == 100 * 24 * 3600


@pytest.mark.parametrize("idp", [{"refresh_rotation_seconds": 0, "old_refresh_grace_seconds": 60}], indirect=True)
def test_superseded_refresh_token_works_only_during_the_grace_period(idp: IdentityProvider) -> None:
    first = connect(idp)
    second = refresh(idp, str(first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    idp.clock.advance(30)
    within_grace = refresh(idp, str(first["refresh_token"]))
    assert within_grace.status_code == 200
    assert within_grace.json()["refresh_token"] == second["refresh_token"]
    idp.clock.advance(31)
    assert refresh(idp, str(first["refresh_token"])).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("idp", [{"refresh_token_ttl_seconds": 100}], indirect=True)
def test_idle_refresh_token_expires(idp: IdentityProvider) -> None:
    first = connect(idp)
    idp.clock.advance(101)
    assert refresh(idp, str(first["refresh_token"])).json()["error"] == "invalid_grant"


def test_hard_expiry_only_on_request(idp: IdentityProvider) -> None:
    first = connect(idp)
    assert "x_refresh_token_hard_expires_in" not in first
    response = idp.http.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers={**basic(), "x-include-refresh-token-hard-expires-in": "true"},
    )
    assert response.json()["x_refresh_token_hard_expires_in"] == 5 * 365 * 24 * 3600


def test_expire_access_tokens_forces_a_refresh(idp: IdentityProvider) -> None:
    first = connect(idp)
    assert idp.tokens.expire_access_tokens(REALM) == 1
    assert company(idp, str(first["access_token"])).status_code == 401
    renewed = refresh(idp, str(first["refresh_token"])).json()
    assert company(idp, renewed["access_token"]).status_code == 200


# --- OpenID ---------------------------------------------------------------------------------------


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_id_token_is_rs256_signed_by_the_published_key(idp: IdentityProvider) -> None:
    issued = connect(idp, f"{ACCOUNTING_SCOPE} openid email profile")
    header_b64, payload_b64, signature_b64 = str(issued["id_token"]).split(".")
    header = json.loads(_b64url_decode(header_b64))
    claims = json.loads(_b64url_decode(payload_b64))
    assert header["alg"] == "RS256"
    assert claims["aud"] == [CLIENT_ID]
    assert claims["realmid"] == REALM
    doc = idp.http.get("/.well-known/openid_configuration").json()
    assert claims["iss"] == doc["issuer"]

    jwk = next(k for k in idp.http.get(doc["jwks_uri"]).json()["keys"] if k["kid"] == header["kid"])
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(_b64url_decode(jwk["e"]), "big"), int.from_bytes(_b64url_decode(jwk["n"]), "big")
    ).public_key()
    # Raises InvalidSignature if the token was not signed by the published key.
    public_key.verify(
        _b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_userinfo_needs_an_openid_token(idp: IdentityProvider) -> None:
    doc = idp.http.get("/.well-known/openid_configuration").json()
    openid = connect(idp, f"{ACCOUNTING_SCOPE} openid email profile")
    info = httpx.get(doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {openid['access_token']}"})
    assert info.status_code == 200
    assert info.json()["givenName"] == "Sandbox"
    assert "@" in info.json()["email"]
    accounting_only = connect(idp)
    forbidden = httpx.get(
        doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {accounting_only['access_token']}"}
    )
    assert forbidden.status_code == 403
    assert httpx.get(doc["userinfo_endpoint"], headers={"Authorization": "Bearer nope"}).status_code == 401


# --- revoke ---------------------------------------------------------------------------------------


def test_revoke_with_an_access_token_disconnects_the_whole_connection(idp: IdentityProvider) -> None:
    a, b = connect(idp), connect(idp)
    other = callback_params(authorize(idp, realmId=OTHER_REALM))
    other_tokens = exchange(idp, other["code"]).json()
    response = idp.http.post("/v2/oauth2/tokens/revoke", json={"token": a["access_token"]}, headers=basic())
    assert response.status_code == 200
    assert company(idp, str(b["access_token"])).status_code == 401
    assert refresh(idp, str(b["refresh_token"])).json()["error"] == "invalid_grant"
    # Another realm's connection is untouched.
    assert company(idp, other_tokens["access_token"], OTHER_REALM).status_code == 200


def test_revoke_requires_client_auth(idp: IdentityProvider) -> None:
    issued = connect(idp)
    response = idp.http.post(
        "/v2/oauth2/tokens/revoke", json={"token": issued["refresh_token"]}, headers=basic(secret="wrong")
    )
    assert response.status_code == 401
    assert company(idp, str(issued["access_token"])).status_code == 200


def test_mint_and_counters(idp: IdentityProvider) -> None:
    minted = idp.tokens.mint(OTHER_REALM)
    assert company(idp, minted["access_token"], OTHER_REALM).status_code == 200
    calls_before = idp.tokens.token_calls
    refresh(idp, minted["refresh_token"])
    refresh(idp, "RT1-unknown")
    assert idp.tokens.token_calls == calls_before + 2
    assert idp.tokens.refresh_calls(OTHER_REALM) == 1
    assert idp.tokens.refresh_calls(REALM) == 0


# --- on the whole sandbox -------------------------------------------------------------------------


def test_dance_against_the_whole_sandbox(sandbox: RunningSandbox) -> None:
    oauth = sandbox.state.config.oauth
    with httpx.Client(base_url=sandbox.base_url, follow_redirects=False) as http:
        doc = http.get("/.well-known/openid_configuration/").json()
        consent = http.get(
            doc["authorization_endpoint"],
            params={
                "client_id": oauth.client_id,
                "response_type": "code",
                "redirect_uri": REDIRECT,
                "state": "xyz",
                "scope": f"{ACCOUNTING_SCOPE} openid",
            },
        )
        callback = callback_params(consent)
        assert callback["realmId"] == sandbox.realm_id
        issued = http.post(
            doc["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": REDIRECT,
                "client_id": oauth.client_id,
                "client_secret": oauth.client_secret,
            },
        ).json()
        assert issued["id_token"].count(".") == 2
        data_url = f"/v3/company/{sandbox.realm_id}/companyinfo/{sandbox.realm_id}"
        bearer = {"Authorization": f"Bearer {issued['access_token']}", "Accept": "application/json"}
        assert http.get(data_url, headers=bearer).json()["CompanyInfo"]
        revoked = http.post(
            doc["revocation_endpoint"],
            json={"token": issued["refresh_token"]},
            auth=(oauth.client_id, oauth.client_secret),
        )
        assert revoked.status_code == 200
        assert http.get(data_url, headers=bearer).status_code == 401
