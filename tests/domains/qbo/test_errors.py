"""error_from: real sandbox answers (captured over HTTP), the other documented fault shapes, and SmartSync failures."""

from __future__ import annotations

import httpx
import pytest

from oodaloo.domains.qbo.errors import (
    QBOAuthError,
    QBOConnectionError,
    QBODuplicate,
    QBOError,
    QBONotConnected,
    QBONotFound,
    QBOReconnectRequired,
    QBOServerError,
    QBOStaleObject,
    QBOThrottled,
    QBOTimeout,
    QBOValidationError,
    error_from,
)
from oodaloo.infra.http import HttpRequest, HttpResponse, TransportError
from oodaloo.infra.jobs.smart_sync import (
    DeadlineExceeded,
    NotConnected,
    Priority,
    QBOUnavailable,
    ReconnectRequired,
    RetriesExhausted,
    SlotTimeout,
)
from oodaloo.sandbox.config import SandboxConfig
from tests.sandbox.conftest import RunningSandbox, make_config

SECRET_TOKEN = "eyJhbGciOiJSUzI1NiJ9SECRETSECRETSECRET"


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    return make_config(size=1200)


@pytest.fixture
def qbo(sandbox: RunningSandbox) -> httpx.Client:
    """A fresh token per test: one test expires the realm's tokens."""
    return sandbox.client()


def captured(response: httpx.Response) -> HttpResponse:
    """A real sandbox answer in the shape SmartSync hands the client."""
    return HttpResponse(
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        content=response.content,
        elapsed_seconds=0.0,
    )


def response(status: int, body: bytes, tid: str | None = None) -> HttpResponse:
    return HttpResponse(status=status, headers={"intuit_tid": tid} if tid else {}, content=body, elapsed_seconds=0.0)


def inject(sandbox: RunningSandbox, kind: str) -> None:
    sandbox.admin().post("/_sandbox/faults/inject", json={"kind": kind}).raise_for_status()


# -- real sandbox answers ---------------------------------------------------------------------------------------------


def test_missing_object_is_not_found_with_intuit_tid(qbo: httpx.Client) -> None:
    error = error_from(captured(qbo.get("/bill/999999")))
    assert type(error) is QBONotFound
    assert (error.status, error.code) == (400, "610")
    assert error.intuit_tid
    assert not error.is_transient


def test_stale_sync_token_is_stale_object(qbo: httpx.Client) -> None:
    vendor = qbo.get("/vendor/1").json()["Vendor"]
    stale = int(vendor["SyncToken"]) + 5
    answer = qbo.post("/vendor", json={"Id": "1", "SyncToken": str(stale), "sparse": True, "AcctNum": "X"})
    error = error_from(captured(answer))
    assert type(error) is QBOStaleObject
    assert error.code == "5010"


def test_missing_required_field_names_the_element(qbo: httpx.Client) -> None:
    answer = qbo.post("/bill", json={"Line": [{"Amount": 5, "DetailType": "AccountBasedExpenseLineDetail"}]})
    error = error_from(captured(answer))
    assert type(error) is QBOValidationError
    assert error.code == "2020"
    assert error.element == "VendorRef"


def test_duplicate_display_name_is_duplicate(qbo: httpx.Client) -> None:
    name = qbo.get("/vendor/1").json()["Vendor"]["DisplayName"]
    error = error_from(captured(qbo.post("/vendor", json={"DisplayName": name})))
    assert type(error) is QBODuplicate
    assert error.code == "6240"


def test_bad_query_is_validation_error(qbo: httpx.Client) -> None:
    error = error_from(captured(qbo.get("/query", params={"query": "SELECT * FROM Bill WHERE"})))
    assert type(error) is QBOValidationError
    assert error.code == "4000"


def test_expired_token_is_auth_error_without_the_token(sandbox: RunningSandbox) -> None:
    token = sandbox.token()
    sandbox.admin().post("/_sandbox/tokens/expire", json={}).raise_for_status()
    answer = httpx.get(
        f"{sandbox.base_url}/v3/company/{sandbox.realm_id}/vendor/1",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    error = error_from(captured(answer))
    assert type(error) is QBOAuthError
    assert (error.status, error.code) == (401, "3200")
    assert token not in str(error)


def test_other_realm_is_authorization_error(sandbox: RunningSandbox) -> None:
    answer = httpx.get(
        f"{sandbox.base_url}/v3/company/123456/vendor/1",
        headers={"Authorization": f"Bearer {sandbox.token()}", "Accept": "application/json"},
    )
    error = error_from(captured(answer))
    assert type(error) is QBOAuthError
    assert (error.status, error.code) == (403, "3100")


@pytest.mark.parametrize(("kind", "status", "code"), [("500", 500, "10000"), ("503", 503, "10001"), ("502", 502, "")])
def test_injected_server_failures_are_transient(
    sandbox: RunningSandbox, qbo: httpx.Client, kind: str, status: int, code: str
) -> None:
    inject(sandbox, kind)
    error = error_from(captured(qbo.get("/vendor/1")))
    assert type(error) is QBOServerError
    assert (error.status, error.code) == (status, code)
    assert error.is_transient


def test_html_gateway_page_gives_a_readable_message(sandbox: RunningSandbox, qbo: httpx.Client) -> None:
    inject(sandbox, "502")
    error = error_from(captured(qbo.get("/vendor/1")))
    assert "Bad Gateway" in str(error)
    assert "<html" not in str(error)


# -- documented shapes the sandbox does not send ----------------------------------------------------------------------

THROTTLE_XML = b"""<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2025-03-04T10:20:11.120-08:00">
  <Fault type="SERVICE"><Error code="3001">
    <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>
    <Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>"""


def test_xml_throttle_body() -> None:
    error = error_from(response(429, THROTTLE_XML, tid="4b1d2c3e"))
    assert type(error) is QBOThrottled
    assert error.code == "3001"
    assert error.detail == "The request limit was reached.  Try again later"
    assert error.intuit_tid == "4b1d2c3e"
    assert error.is_transient


def test_historic_throttle_on_403_is_still_throttled() -> None:
    body = THROTTLE_XML.replace(b"statusCode=429", b"statusCode=403")
    assert type(error_from(response(403, body))) is QBOThrottled


def test_xml_auth_fault() -> None:
    body = b'<IntuitResponse><Fault type="AuthenticationFault"><Error code="100"><Message>General Authentication Error'
    body += b"</Message></Error></Fault></IntuitResponse>"
    error = error_from(response(401, body))
    assert type(error) is QBOAuthError
    assert (error.code, error.message) == ("100", "General Authentication Error")


def test_gateway_detail_never_carries_the_token() -> None:
    body = (
        b'{"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",'
        b' "detail": "Token expired: ' + SECRET_TOKEN.encode() + b'", "code": "3200", "element": null}],'
        b' "type": "AUTHENTICATION"}, "time": 1741112411120}'
    )
    error = error_from(response(401, body))
    assert type(error) is QBOAuthError
    assert SECRET_TOKEN not in str(error)
    assert SECRET_TOKEN not in error.detail
    assert error.element is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("6140", QBODuplicate),
        ("600", QBODuplicate),
        ("2500", QBOValidationError),
        ("2170", QBOValidationError),
        ("4001", QBOValidationError),
        ("6000", QBOValidationError),
        ("120", QBOAuthError),
    ],
)
def test_fault_codes_map_to_their_class(code: str, expected: type[QBOError]) -> None:
    body = b'{"Fault": {"Error": [{"Message": "m", "Detail": "d", "code": "%s"}], "type": "ValidationFault"}}'
    assert type(error_from(response(400, body % code.encode()))) is expected


def test_status_only_answers() -> None:
    gateway_timeout = error_from(response(504, b""))
    assert type(gateway_timeout) is QBOServerError
    assert gateway_timeout.status == 504
    assert "Gateway Timeout" in gateway_timeout.message
    assert type(error_from(response(429, b""))) is QBOThrottled
    assert type(error_from(response(418, b"not json {"))) is QBOValidationError


def test_validation_element_derived_from_detail() -> None:
    body = (
        b'{"Fault": {"Error": [{"Message": "Required param missing", '
        b'"Detail": "Required parameter Line is missing in the request", "code": "2020", "element": ""}]}}'
    )
    assert error_from(response(400, body)).element == "Line"


def test_batch_item_fault_mapping() -> None:
    fault = {"type": "ValidationFault", "Error": [{"Message": "Stale Object Error", "code": "5010", "element": ""}]}
    assert type(error_from(fault)) is QBOStaleObject


# -- SmartSync and transport failures ---------------------------------------------------------------------------------


def test_smart_sync_errors_convert() -> None:
    reconnect = error_from(ReconnectRequired("QuickBooks no longer accepts this connection"))
    assert type(reconnect) is QBOReconnectRequired
    assert isinstance(reconnect, QBOAuthError)
    assert "no longer accepts" in str(reconnect)
    # Never connected (or disconnected) is told apart by its type, not by its message.
    not_connected = error_from(NotConnected("anything at all"))
    assert type(not_connected) is QBONotConnected
    assert isinstance(not_connected, QBOReconnectRequired)
    late = error_from(DeadlineExceeded(may_have_reached_qbo=True))
    assert isinstance(late, QBOTimeout)
    assert late.may_have_reached_qbo
    assert type(error_from(SlotTimeout("123", Priority.USER, 1, 10.0))) is QBOThrottled


def test_retries_exhausted_converts_by_what_happened_last() -> None:
    answered = RetriesExhausted(
        attempts=3, last_response=response(503, b""), transport_error_kind=None, may_have_reached_qbo=True
    )
    assert type(error_from(answered)) is QBOServerError
    timed_out = error_from(
        RetriesExhausted(attempts=3, last_response=None, transport_error_kind="timeout", may_have_reached_qbo=True)
    )
    assert isinstance(timed_out, QBOTimeout)
    assert timed_out.may_have_reached_qbo
    refused = RetriesExhausted(
        attempts=3, last_response=None, transport_error_kind="connect", may_have_reached_qbo=False
    )
    assert type(error_from(refused)) is QBOConnectionError


def test_transport_errors_convert() -> None:
    request = HttpRequest(method="GET", url="http://127.0.0.1:9/v3/company/1/query", params={"requestid": "abc"})
    timeout = error_from(TransportError("timeout", request, TimeoutError()))
    assert isinstance(timeout, QBOTimeout)
    assert timeout.is_transient
    assert type(error_from(TransportError("connect", request, OSError()))) is QBOConnectionError


def test_quickbooks_unavailable_is_one_type_that_carries_when_to_retry() -> None:
    """SmartSync's QBOUnavailable is the only "QuickBooks unavailable" error: the QBO error tree has no twin of it."""
    import oodaloo.domains.qbo.errors as tree

    twins = [name for name in vars(tree) if "Unavailable" in name and name != "QBOUnavailable"]
    assert twins == []
    paused = QBOUnavailable("123", retry_after_seconds=14.2)
    assert paused.retry_after_seconds == 14.2
    assert "15 s" in str(paused)
