"""Sign-up, sign-in, sign-out, the caller, and API tokens over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import TEST_PASSWORD, Account, session_cookie_of, unique_email


def test_signup_signs_in_with_a_hardened_cookie(anonymous: httpx.Client) -> None:
    email = unique_email()
    response = anonymous.post("/api/auth/signup", json={"email": f"  {email.upper()} ", "password": TEST_PASSWORD})

    assert response.status_code == 201
    assert response.json()["email"] == email
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" in cookie  # outside development
    me = anonymous.get("/api/me", headers={"Cookie": f"oodaloo_session={session_cookie_of(response)}"})
    assert me.json()["email"] == email


def test_email_is_unique_case_insensitively(make_account: Callable[..., Account], anonymous: httpx.Client) -> None:
    account = make_account()
    response = anonymous.post("/api/auth/signup", json={"email": account.email.upper(), "password": TEST_PASSWORD})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"
    assert response.json()["error"]["field"] == "email"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": TEST_PASSWORD}, "email"),
        ({"password": TEST_PASSWORD}, "email"),
        ({"email": "short@example.com", "password": "short"}, "password"),
        ({"email": "same@example.com", "password": "aaaaaaaaaaaa"}, "password"),
        ({"email": "extra@example.com", "password": TEST_PASSWORD, "admin": True}, "admin"),
    ],
)
def test_bad_signup_input_is_a_4xx_naming_the_field(
    anonymous: httpx.Client, body: dict[str, object], field: str
) -> None:
    response = anonymous.post("/api/auth/signup", json=body)

    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"]


def test_signin_with_wrong_password_is_refused_without_saying_which_part(
    make_account: Callable[..., Account], anonymous: httpx.Client
) -> None:
    account = make_account()
    wrong = anonymous.post("/api/auth/signin", json={"email": account.email, "password": "wrong password!"})
    unknown = anonymous.post("/api/auth/signin", json={"email": unique_email(), "password": TEST_PASSWORD})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]
    assert "set-cookie" not in wrong.headers


def test_signout_revokes_the_session(make_account: Callable[..., Account], anonymous: httpx.Client) -> None:
    account = make_account()
    signin = anonymous.post("/api/auth/signin", json={"email": account.email, "password": account.password})
    assert signin.status_code == 200
    cookie = {"Cookie": f"oodaloo_session={session_cookie_of(signin)}"}
    assert anonymous.get("/api/me", headers=cookie).status_code == 200

    assert anonymous.post("/api/auth/signout", headers=cookie).status_code == 204

    response = anonymous.get("/api/me", headers=cookie)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    # The account's other session is untouched.
    assert account.client.get("/api/me").status_code == 200


def test_api_token_is_shown_once_used_as_bearer_and_revocable(make_account: Callable[..., Account]) -> None:
    account = make_account()
    created = account.client.post("/api/auth/tokens", json={"name": "ci"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("oodaloo_")
    assert secret.startswith(created.json()["prefix"])

    with account.bearer(secret) as api:
        me = api.get("/api/me")
        assert me.json()["email"] == account.email
        listed = api.get("/api/auth/tokens").json()
        assert [token["name"] for token in listed] == ["ci"]
        assert "token" not in listed[0]
        assert listed[0]["last_used_at"] is not None

        assert account.client.delete(f"/api/auth/tokens/{created.json()['id']}").status_code == 204
        refused = api.get("/api/me")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"


def test_an_api_token_cannot_mint_more_tokens(make_account: Callable[..., Account]) -> None:
    account = make_account()
    secret = account.client.post("/api/auth/tokens", json={"name": "ci"}).json()["token"]
    with account.bearer(secret) as api:
        assert api.post("/api/auth/tokens", json={"name": "more"}).status_code == 401


def test_tokens_of_another_user_cannot_be_revoked(make_account: Callable[..., Account]) -> None:
    alice, mallory = make_account("alice"), make_account("mallory")
    token_id = alice.client.post("/api/auth/tokens", json={"name": "ci"}).json()["id"]

    assert mallory.client.delete(f"/api/auth/tokens/{token_id}").status_code == 404
    assert alice.client.get("/api/auth/tokens").json()[0]["revoked_at"] is None


@pytest.mark.parametrize("authorization", ["Bearer oodaloo_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer"])
def test_bad_credentials_are_401(anonymous: httpx.Client, authorization: str) -> None:
    response = anonymous.get("/api/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_anonymous_caller_is_401(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/me").status_code == 401
    assert anonymous.get("/api/businesses").status_code == 401
