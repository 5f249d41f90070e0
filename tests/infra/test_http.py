"""The pooled HTTP transport over loopback: requests and responses, Decimal JSON, and how failures are reported."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from oodaloo.infra.http import HttpRequest, HttpTransport, TransportError
from tests.support.servers import serve

pytestmark = pytest.mark.timeout(30)

SECRET = "sk-very-secret-token-value"


async def echo(request: Request) -> Response:
    return JSONResponse(
        {
            "method": request.method,
            "params": dict(request.query_params),
            "authorization": request.headers.get("authorization"),
            "content_type": request.headers.get("content-type"),
            "body": (await request.body()).decode(),
        },
        headers={"Intuit-TID": "tid-123"},
    )


async def amounts(_request: Request) -> Response:
    return Response(b'{"TotalAmt": 1234.56, "Count": 2}', media_type="application/json")


async def slow(_request: Request) -> Response:
    await asyncio.sleep(1)
    return Response(b"late")


async def moved(_request: Request) -> Response:
    return RedirectResponse("/echo", status_code=302)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST"]),
            Route("/amounts", amounts),
            Route("/slow", slow),
            Route("/moved", moved),
        ]
    )
    with serve(app) as url:
        yield url


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    client = HttpTransport(max_connections=4)
    yield client
    await client.aclose()


async def test_a_request_carries_params_headers_and_body(transport: HttpTransport, base_url: str) -> None:
    response = await transport.send(
        HttpRequest(
            "POST",
            f"{base_url}/echo",
            params={"requestid": "abc", "minorversion": "75"},
            headers={"Authorization": "Bearer t0ken", "Content-Type": "application/text"},
            content=b"SELECT * FROM Bill",
        )
    )
    assert response.status == 200
    assert response.json() == {
        "method": "POST",
        "params": {"requestid": "abc", "minorversion": "75"},
        "authorization": "Bearer t0ken",
        "content_type": "application/text",
        "body": "SELECT * FROM Bill",
    }
    assert response.headers["intuit-tid"] == "tid-123"  # header names in lower case
    assert response.elapsed_seconds >= 0


async def test_json_amounts_are_decimal(transport: HttpTransport, base_url: str) -> None:
    response = await transport.send(HttpRequest("GET", f"{base_url}/amounts"))
    assert response.json() == {"TotalAmt": Decimal("1234.56"), "Count": 2}
    assert isinstance(response.json()["TotalAmt"], Decimal)


async def test_redirects_are_returned_not_followed(transport: HttpTransport, base_url: str) -> None:
    response = await transport.send(HttpRequest("GET", f"{base_url}/moved", headers={"Authorization": "Bearer x"}))
    assert response.status == 302


async def test_proxy_settings_from_the_environment_are_ignored(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    transport = HttpTransport()
    try:
        assert (await transport.send(HttpRequest("GET", f"{base_url}/amounts"))).status == 200
    finally:
        await transport.aclose()


async def test_a_slow_answer_is_a_timeout_and_the_message_keeps_secrets_out(
    transport: HttpTransport, base_url: str
) -> None:
    with pytest.raises(TransportError) as raised:
        await transport.send(
            HttpRequest(
                "GET",
                f"{base_url}/slow",
                params={"access_token": SECRET},
                headers={"Authorization": f"Bearer {SECRET}"},
                timeout=0.2,
            )
        )
    assert raised.value.kind == "timeout"
    assert SECRET not in str(raised.value)
    assert "/slow" in str(raised.value)
    # httpx's own error, which names the whole URL, is not chained onto it for a traceback to print.
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


async def test_a_refused_connection_is_a_connect_error(transport: HttpTransport) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError) as raised:
        await transport.send(HttpRequest("GET", f"http://127.0.0.1:{port}/v3?secret={SECRET}"))
    assert raised.value.kind == "connect"
    assert SECRET not in str(raised.value)


@pytest.fixture
def hang_up_server() -> Iterator[str]:
    """Accepts a connection, reads the request, and closes without answering."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(5)

    def serve_once() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)

    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=5)


async def test_a_connection_dropped_without_an_answer_is_a_protocol_error(
    transport: HttpTransport, hang_up_server: str
) -> None:
    with pytest.raises(TransportError) as raised:
        await transport.send(HttpRequest("POST", f"{hang_up_server}/v3/company/1/bill", content=b"{}"))
    assert raised.value.kind == "protocol"
