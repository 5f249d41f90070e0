"""Hostile input over real HTTP: NUL characters (422 naming the field, nothing written, on every database), bodies
over the size limit (413 without reading them), and cookie-authenticated writes from another site (403)."""

from __future__ import annotations

import re
import select
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from oodaloo.infra.web.middleware import MAX_REQUEST_BODY_BYTES
from tests.conftest import TEST_PASSWORD, Account, unique_email

NUL = "\x00"
EVIL_ORIGIN = "https://evil.example"
PAY_PATH = "/api/businesses/{business_id}/bills/{bill_id}/pay"


def create_business(account: Account, **headers: str) -> httpx.Response:
    return account.client.post("/api/businesses", json={"name": "Acme", "timezone": "UTC"}, headers=headers)


def business_names(account: Account) -> list[str]:
    return [business["name"] for business in account.client.get("/api/businesses").json()]


def assert_refused_naming(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "nul_character"
    assert error["field"] == field
    assert field in error["message"]


# --- NUL characters -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": f"a{NUL}@example.com", "password": TEST_PASSWORD}, "email"),
        ({"email": "a@example.com", "password": f"correct{NUL}horse battery"}, "password"),
    ],
)
def test_nul_in_sign_in_is_a_422_naming_the_field(anonymous: httpx.Client, body: dict[str, str], field: str) -> None:
    assert_refused_naming(anonymous.post("/api/auth/signin", json=body), field)


@pytest.mark.parametrize("field", ["email", "password", "display_name"])
def test_nul_in_sign_up_is_refused_and_no_account_is_made(anonymous: httpx.Client, field: str) -> None:
    email = unique_email()
    clean = {"email": email, "password": TEST_PASSWORD, "display_name": "Ada Lovelace"}
    hostile = {**clean, field: clean[field][:3] + NUL + clean[field][3:]}

    assert_refused_naming(anonymous.post("/api/auth/signup", json=hostile), field)

    # Nothing was written: the address is still free, and the account made now is the clean one.
    created = anonymous.post("/api/auth/signup", json=clean)
    assert created.status_code == 201, created.text
    assert created.json()["display_name"] == "Ada Lovelace"


def test_nul_in_business_fields_is_refused_and_nothing_is_written(make_account: Callable[..., Account]) -> None:
    owner = make_account()

    refused = owner.client.post("/api/businesses", json={"name": f"Acme{NUL}", "timezone": "UTC"})
    assert_refused_naming(refused, "name")
    assert business_names(owner) == []

    business_id = create_business(owner).json()["id"]
    assert_refused_naming(owner.client.patch(f"/api/businesses/{business_id}", json={"name": f"{NUL}Evil"}), "name")
    assert business_names(owner) == ["Acme"]

    member = {"email": f"b{NUL}@example.com", "role": "viewer"}
    assert_refused_naming(owner.client.post(f"/api/businesses/{business_id}/members", json=member), "email")
    assert len(owner.client.get(f"/api/businesses/{business_id}/members").json()) == 1


def test_nul_anywhere_in_a_request_is_named(make_account: Callable[..., Account], anonymous: httpx.Client) -> None:
    account = make_account()
    business_id = create_business(account).json()["id"]

    assert_refused_naming(account.client.post("/api/auth/tokens", json={"name": f"ci{NUL}"}), "name")
    assert account.client.get("/api/auth/tokens").json() == []
    # Nested JSON, a key, a query parameter, a path parameter: each named as validation errors name fields.
    pay = PAY_PATH.format(business_id=business_id, bill_id="42")
    nested = {"amount": "10.00", "pay_from_account_id": f"35{NUL}"}
    assert_refused_naming(account.client.post(pay, json=nested), "pay_from_account_id")
    assert_refused_naming(account.client.post("/api/auth/tokens", json={f"na{NUL}me": "ci"}), "na\\u0000me")
    assert_refused_naming(account.client.get(f"/api/businesses/{business_id}/bills?status=op%00en"), "status")
    assert_refused_naming(
        account.client.post(PAY_PATH.format(business_id=business_id, bill_id="4%002"), json={}), "bill_id"
    )
    assert_refused_naming(account.client.get("/api/businesses/%00"), "business_id")


def test_nul_in_the_console_sign_in_form_is_refused(anonymous: httpx.Client) -> None:
    page = anonymous.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    form = {"email": f"a{NUL}@example.com", "password": TEST_PASSWORD, "csrf_token": token.group(1)}
    assert_refused_naming(anonymous.post("/signin", data=form), "email")


# --- Body size ------------------------------------------------------------------------------------------------------


def _raw_request(base_url: str, head: bytes, chunks: Iterable[bytes] = ()) -> tuple[int, bytes, int]:
    """Send ``head`` then ``chunks`` over a plain socket, stopping as soon as the server answers; returns the status,
    the response body and how many body bytes were sent. A server that waited for the whole body would never answer
    here (the body never ends or never comes), so the socket's timeout fails the test."""
    address = urlsplit(base_url)
    assert address.hostname
    assert address.port
    sent = 0
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(head)
        for chunk in chunks:
            if select.select([connection], [], [], 0)[0]:
                break  # the server has answered
            try:
                connection.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        response = b""
        while b"\r\n\r\n" not in response:
            response += _received(connection)
        header_block, _, body = response.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", header_block)
        assert length, header_block
        while len(body) < int(length.group(1)):
            body += _received(connection)
    status = int(header_block.split(b" ", 2)[1])
    return status, body, sent


def _received(connection: socket.socket) -> bytes:
    data = connection.recv(65536)
    assert data, "the server closed the connection without a complete answer"
    return data


def _head(method: str, path: str, base_url: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {urlsplit(base_url).netloc}", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _chunks_of_a_huge_body(size: int = 64 * 1024, count: int = 128) -> Iterator[bytes]:
    """8 MiB of a JSON array in chunks, never finished: only a server that stops reading at its limit answers."""
    payload = b"[" + b"1," * (size // 2)
    framed = f"{len(payload):x}\r\n".encode() + payload + b"\r\n"
    for _ in range(count):
        yield framed


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(api: str) -> None:
    fifty_megabytes = 50 * 1024 * 1024
    head = _head(
        "POST", "/api/auth/signup", api, "Content-Type: application/json", f"Content-Length: {fifty_megabytes}"
    )

    status, body, _sent = _raw_request(api, head)

    assert status == 413
    error = httpx.Response(413, content=body).json()["error"]
    assert error["code"] == "body_too_large"
    assert str(MAX_REQUEST_BODY_BYTES) in error["message"]


def test_a_chunked_body_is_refused_once_it_passes_the_limit(api: str) -> None:
    head = _head("POST", "/api/auth/signup", api, "Content-Type: application/json", "Transfer-Encoding: chunked")

    status, body, sent = _raw_request(api, head, _chunks_of_a_huge_body())

    assert status == 413
    assert httpx.Response(413, content=body).json()["error"]["code"] == "body_too_large"
    assert sent >= MAX_REQUEST_BODY_BYTES  # it was counted as it came, and the server stopped reading


def test_bodies_within_the_limit_still_work_chunked_or_not(anonymous: httpx.Client) -> None:
    def chunked(document: bytes) -> Iterator[bytes]:
        yield document[:10]
        yield document[10:]

    email = unique_email()
    document = httpx.Request("POST", "/", json={"email": email, "password": TEST_PASSWORD}).content
    response = anonymous.post(
        "/api/auth/signup", content=chunked(document), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["email"] == email

    just_over = anonymous.post("/api/auth/signup", content=b" " * (MAX_REQUEST_BODY_BYTES + 1))
    assert just_over.status_code == 413
    assert just_over.headers["x-request-id"]  # answered inside the request context: logged and traceable


# --- Cookie-authenticated writes from another site ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"Origin": EVIL_ORIGIN}, {"Referer": f"{EVIL_ORIGIN}/phish"}, {"Origin": "null"}],
    ids=["origin", "referer", "opaque-origin"],
)
def test_a_cookie_write_from_another_site_is_refused(
    make_account: Callable[..., Account], headers: dict[str, str]
) -> None:
    account = make_account()

    refused = create_business(account, **headers)

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "cross_site_request"
    assert "another site" in error["message"]
    assert business_names(account) == []
    # Reading is not a write: the same cookie and Origin may read.
    assert account.client.get("/api/businesses", headers=headers).status_code == 200


def test_a_cookie_write_from_this_site_is_accepted(make_account: Callable[..., Account], api: str) -> None:
    account = make_account()
    assert create_business(account, Origin=api).status_code == 201
    assert create_business(account, Referer=f"{api}/businesses").status_code == 201
    assert business_names(account) == ["Acme", "Acme"]


def test_a_bearer_token_write_is_accepted_from_any_origin(make_account: Callable[..., Account]) -> None:
    account = make_account()
    secret = account.client.post("/api/auth/tokens", json={"name": "ci"}).json()["token"]
    with account.bearer(secret) as api:
        created = api.post("/api/businesses", json={"name": "Acme", "timezone": "UTC"}, headers={"Origin": EVIL_ORIGIN})
    assert created.status_code == 201


def test_signing_out_from_another_site_is_refused(make_account: Callable[..., Account]) -> None:
    account = make_account()
    refused = account.client.post("/api/auth/signout", headers={"Origin": EVIL_ORIGIN})
    assert refused.status_code == 403
    assert account.client.get("/api/me").status_code == 200


def test_the_pay_operation_documents_its_503(anonymous: httpx.Client) -> None:
    operation: dict[str, Any] = anonymous.get("/openapi.json").json()["paths"][PAY_PATH]["post"]
    unavailable = operation["responses"]["503"]
    assert "qbo_unavailable" in unavailable["description"]
    assert "Retry-After" in unavailable["headers"]
