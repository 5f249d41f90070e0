"""Sign-up, sign-in, sign-out, the caller, and API tokens over real HTTP."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import time_machine

from oodaloo.domains.core.service import SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_ADDRESS
from oodaloo.infra.auth import passwords
from oodaloo.infra.auth.csrf import CSRF_COOKIE
from tests.conftest import TEST_PASSWORD, Account, session_cookie_of, unique_email

WRONG_PASSWORD = "wrong password!"


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


def an_address() -> dict[str, str]:
    """A client address of the test's own: the test server believes ``X-Forwarded-For`` from loopback (uvicorn's
    default), so no other test's sign-ins count against it."""
    return {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"}


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each argon2 verification the server runs (the real one, counted), by the hash it checked against."""
    checked: list[str] = []
    verify = passwords.verify_password

    def counted(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counted)
    return checked


def sign_in(client: httpx.Client, email: str, password: str, headers: dict[str, str]) -> httpx.Response:
    return client.post("/api/auth/signin", json={"email": email, "password": password}, headers=headers)


def test_failed_sign_ins_are_limited_per_account_before_the_password_is_checked(
    make_account: Callable[..., Account], anonymous: httpx.Client, password_checks: list[str]
) -> None:
    account = make_account()
    # Each guess from another address: the account's own limit is what must stop them.
    for _ in range(SIGN_IN_PER_ACCOUNT.attempts):
        assert sign_in(anonymous, account.email, WRONG_PASSWORD, an_address()).status_code == 401
    assert len(password_checks) == SIGN_IN_PER_ACCOUNT.attempts

    refused = sign_in(anonymous, account.email.upper(), account.password, an_address())  # the same account, spelled
    refused_at = time.time()

    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "too_many_sign_in_attempts"
    assert "try again in" in error["message"]
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= SIGN_IN_PER_ACCOUNT.window_seconds
    assert "set-cookie" not in refused.headers
    assert len(password_checks) == SIGN_IN_PER_ACCOUNT.attempts  # refused without spending argon2 on it

    # Just before Retry-After has passed the account is still closed; once it has, its owner signs in.
    with time_machine.travel(refused_at + retry_after - 60, tick=False):
        assert sign_in(anonymous, account.email, account.password, an_address()).status_code == 429
    with time_machine.travel(refused_at + retry_after + 1, tick=False):
        signed_in = sign_in(anonymous, account.email, account.password, an_address())
    assert signed_in.status_code == 200
    assert (
        anonymous.get("/api/me", headers={"Cookie": f"oodaloo_session={session_cookie_of(signed_in)}"}).json()["email"]
        == account.email
    )


def test_failed_sign_ins_are_limited_per_client_address_across_accounts(
    make_account: Callable[..., Account], anonymous: httpx.Client
) -> None:
    account = make_account()
    address = an_address()
    for _ in range(SIGN_IN_PER_ADDRESS.attempts):
        assert sign_in(anonymous, unique_email("sprayed"), WRONG_PASSWORD, address).status_code == 401

    refused = sign_in(anonymous, account.email, account.password, address)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_sign_in_attempts"
    assert int(refused.headers["retry-after"]) > 0
    # The account itself is not closed: from anywhere else its owner signs in.
    assert sign_in(anonymous, account.email, account.password, an_address()).status_code == 200


def test_successful_sign_ins_use_up_no_limit(make_account: Callable[..., Account], anonymous: httpx.Client) -> None:
    account = make_account()
    address = an_address()
    for _ in range(SIGN_IN_PER_ACCOUNT.attempts + 2):
        assert sign_in(anonymous, account.email, account.password, address).status_code == 200
    # All of the account's failures are still available to its owner's typos.
    for _ in range(SIGN_IN_PER_ACCOUNT.attempts):
        assert sign_in(anonymous, account.email, WRONG_PASSWORD, address).status_code == 401


def _console_form(client: httpx.Client, headers: dict[str, str]) -> tuple[dict[str, str], str]:
    """The sign-in page's CSRF cookie (sent by hand: it is Secure outside development) and its form token."""
    page = client.get("/signin", headers=headers)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return {**headers, "Cookie": f"{CSRF_COOKIE}={page.cookies[CSRF_COOKIE]}"}, match.group(1)


def test_the_console_sign_in_form_shares_the_limit(
    make_account: Callable[..., Account], anonymous: httpx.Client
) -> None:
    account = make_account()
    headers, csrf_token = _console_form(anonymous, an_address())
    form: dict[str, Any] = {"email": account.email, "password": WRONG_PASSWORD, "csrf_token": csrf_token}
    half = SIGN_IN_PER_ACCOUNT.attempts // 2
    for _ in range(half):
        assert anonymous.post("/signin", data=form, headers=headers).status_code == 401
    for _ in range(SIGN_IN_PER_ACCOUNT.attempts - half):
        assert sign_in(anonymous, account.email, WRONG_PASSWORD, an_address()).status_code == 401

    refused = anonymous.post("/signin", data={**form, "password": account.password}, headers=headers)

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Too many failed sign-in attempts" in refused.text
    assert "oodaloo_session" not in refused.headers.get("set-cookie", "")
    assert sign_in(anonymous, account.email, account.password, an_address()).status_code == 429
