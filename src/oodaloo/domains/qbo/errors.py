"""The typed QBO error tree, and :func:`error_from`, the one place any QBO failure becomes one of its errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from oodaloo.infra.http import HttpResponse, TransportError
from oodaloo.infra.jobs.smart_sync import (
    DeadlineExceeded,
    NotConnected,
    ReconnectRequired,
    RetriesExhausted,
    SlotTimeout,
    SmartSyncError,
)

# Codes from the Intuit catalogue (API_NOTES §8.3) that decide the error class; anything else falls back on status.
AUTH_CODES = frozenset({"100", "120", "3100", "3200"})
THROTTLE_CODES = frozenset({"3001"})
NOT_FOUND_CODES = frozenset({"610"})
STALE_CODES = frozenset({"5010"})
DUPLICATE_CODES = frozenset({"600", "6140", "6240"})
SERVER_CODES = frozenset({"10000"})
# Longest text kept from a body that is not a QBO fault (an HTML error page, say).
MAX_RAW_MESSAGE_CHARS = 200

_REQUIRED_PARAM = re.compile(r"Required parameter (\S+) is missing")
# Gateways echo the rejected bearer token in the detail ("Token expired: <token>"); never keep it.
_TOKEN_TEXT = re.compile(r"(?i)(\b(?:bearer|token)(?:\s+\w+)?\s*[:=]?\s+)([A-Za-z0-9._~+/=-]{6,})")
_XML_ERROR = re.compile(r"<Error\b([^>]*)>(.*?)</Error>", re.S | re.I)
_XML_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_XML_TAG = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.S | re.I) for name in ("Message", "Detail")}
_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")


class QBOError(Exception):
    """A QBO request that did not succeed.

    ``status`` is the HTTP status (None when no response came back), ``code`` QBO's fault code as a string ("" when
    the body carried none), ``element`` the field it names, ``intuit_tid`` the transaction id Intuit support asks
    for. ``is_transient``: the same request may succeed later; otherwise the request itself must change.
    """

    is_transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        detail: str = "",
        element: str | None = None,
        intuit_tid: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element or None
        self.intuit_tid = intuit_tid
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = " ".join(part for part in (f"HTTP {self.status}" if self.status else "", self.code) if part)
        text = f"{self.message}: {self.detail}" if self.detail and self.detail != self.message else self.message
        tail = f" (intuit_tid {self.intuit_tid})" if self.intuit_tid else ""
        return f"{head} {text}{tail}" if head else f"{text}{tail}"


class QBOAuthError(QBOError):
    """QBO refused the credentials (401) or the app's access to this company (403)."""


class QBOReconnectRequired(QBOAuthError):
    """QBO no longer accepts the connection's refresh token: a person must connect the company again."""


class QBONotConnected(QBOReconnectRequired):
    """The business has no connection to call QBO with (never connected, or disconnected)."""


class QBONotFound(QBOError):
    """The object (or one it references) does not exist or is inactive (code 610)."""


class QBOValidationError(QBOError):
    """QBO refused the request as invalid; ``element`` names the field when known."""


class QBOStaleObject(QBOError):
    """The SyncToken was stale: someone changed the object first (code 5010). Re-read, re-apply, retry."""


class QBODuplicate(QBOError):
    """A duplicate: document number (6140), name (6240) or requestid with a different request (600)."""


class QBOThrottled(QBOError):
    """A rate limit was hit, at QBO (429 / 3001) or in our own per-company limiter."""

    is_transient = True


class QBOServerError(QBOError):
    """QBO or its gateway failed (5xx)."""

    is_transient = True


class QBOConnectionError(QBOError):
    """QBO could not be reached, or the exchange broke off."""

    is_transient = True


class QBOTimeout(QBOError):
    """No answer in time. ``may_have_reached_qbo``: a write may have been applied; verify before re-sending anew."""

    is_transient = True

    def __init__(self, message: str, *, may_have_reached_qbo: bool, **fields: Any) -> None:
        self.may_have_reached_qbo = may_have_reached_qbo
        super().__init__(message, **fields)


@dataclass(frozen=True)
class _Fault:
    code: str
    message: str
    detail: str
    element: str


ErrorSource = HttpResponse | SmartSyncError | SlotTimeout | TransportError | Mapping[str, Any]


def error_from(source: ErrorSource) -> QBOError:
    """The typed error for a failed QBO exchange.

    ``source`` is a non-2xx response, an error SmartSync raised, a transport error, or the ``Fault`` object of one
    batch item (a mapping, as the batch response carries it). SmartSync's ``QBOUnavailable`` is not one of them: it
    is not translated but travels as it is to the web layer (503 with Retry-After).
    """
    if isinstance(source, HttpResponse):
        return _from_response(source)
    if isinstance(source, TransportError):
        return _from_transport(source.kind, str(source))
    if isinstance(source, SlotTimeout):
        return QBOThrottled("QuickBooks is busy for this company; try again shortly")
    if isinstance(source, SmartSyncError):
        return _from_sync_error(source)
    fault = _first_fault(source)
    return _classify(400, fault or _Fault("", "QuickBooks refused this item", "", ""), None)


def _from_response(response: HttpResponse) -> QBOError:
    fault = _parse_body(response.content)
    if fault is None:
        fault = _Fault("", _status_phrase(response.status), _raw_text(response.content), "")
    return _classify(response.status, fault, response.headers.get("intuit_tid"))


def _from_transport(kind: str, text: str, *, may_have_reached_qbo: bool = True) -> QBOError:
    if kind == "timeout":
        return QBOTimeout("QuickBooks did not answer in time", may_have_reached_qbo=may_have_reached_qbo, detail=text)
    if kind == "connect":
        return QBOConnectionError("QuickBooks could not be reached", detail=text)
    return QBOConnectionError("The connection to QuickBooks broke off", detail=text)


def _from_sync_error(error: SmartSyncError) -> QBOError:
    if isinstance(error, RetriesExhausted):
        if error.last_response is not None:
            return _from_response(error.last_response)
        kind = error.transport_error_kind or "protocol"
        return _from_transport(kind, str(error), may_have_reached_qbo=error.may_have_reached_qbo)
    if isinstance(error, DeadlineExceeded):
        return QBOTimeout(
            "QuickBooks did not finish in the time allowed",
            may_have_reached_qbo=error.may_have_reached_qbo,
            detail=str(error),
        )
    if isinstance(error, NotConnected):
        return QBONotConnected(str(error) or "Connect QuickBooks to continue")
    if isinstance(error, ReconnectRequired):
        return QBOReconnectRequired(str(error) or "Reconnect QuickBooks to continue")
    return QBOError(str(error) or type(error).__name__)


def _classify(status: int, fault: _Fault, intuit_tid: str | None) -> QBOError:
    fields: dict[str, Any] = {
        "status": status,
        "code": fault.code,
        "detail": _redact(fault.detail),
        "element": fault.element or None,
        "intuit_tid": intuit_tid,
    }
    message = _redact(fault.message)
    code = fault.code
    if status == 429 or code in THROTTLE_CODES or "ThrottleExceeded" in fault.message:
        return QBOThrottled(message, **fields)
    if status in (401, 403) or code in AUTH_CODES:
        return QBOAuthError(message, **fields)
    if code in NOT_FOUND_CODES:
        return QBONotFound(message, **fields)
    if code in STALE_CODES:
        return QBOStaleObject(message, **fields)
    if code in DUPLICATE_CODES:
        return QBODuplicate(message, **fields)
    if status >= 500 or code in SERVER_CODES:
        return QBOServerError(message, **fields)
    if 400 <= status < 500:
        fields["element"] = fault.element or _required_param(fault.detail)
        return QBOValidationError(message, **fields)
    return QBOError(message, **fields)


def _parse_body(content: bytes) -> _Fault | None:
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            body = json.loads(text, parse_float=Decimal)
        except ValueError:
            return None
        return _first_fault(body.get("Fault") or body.get("fault")) if isinstance(body, dict) else None
    if "<Error" in text or "<error" in text:
        return _xml_fault(text)
    return None


def _first_fault(fault: Any) -> _Fault | None:
    """The first entry of ``Fault.Error[]`` (data service) or ``fault.error[]`` (gateway)."""
    if not isinstance(fault, Mapping):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return None
    first = {str(key).lower(): value for key, value in errors[0].items()}
    return _Fault(
        code=_text(first.get("code")),
        message=_text(first.get("message")),
        detail=_text(first.get("detail")),
        element=_text(first.get("element")),
    )


def _xml_fault(text: str) -> _Fault | None:
    match = _XML_ERROR.search(text)
    if match is None:
        return None
    attributes = dict(_XML_ATTR.findall(match.group(1)))
    inner = match.group(2)
    found = {name: pattern.search(inner) for name, pattern in _XML_TAG.items()}
    return _Fault(
        code=attributes.get("code", ""),
        message=found["Message"].group(1).strip() if found["Message"] else "",
        detail=found["Detail"].group(1).strip() if found["Detail"] else "",
        element=attributes.get("element", ""),
    )


def _raw_text(content: bytes) -> str:
    """Something readable from a non-fault body: an HTML page's title, or the start of the text."""
    text = content.decode("utf-8", errors="replace")
    title = _HTML_TITLE.search(text)
    if title:
        return title.group(1).strip()
    return " ".join(_TAGS.sub(" ", text).split())[:MAX_RAW_MESSAGE_CHARS]


def _status_phrase(status: int) -> str:
    try:
        return f"{HTTPStatus(status).phrase} from QuickBooks"
    except ValueError:
        return f"HTTP {status} from QuickBooks"


def _required_param(detail: str) -> str | None:
    match = _REQUIRED_PARAM.search(detail)
    return match.group(1) if match else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _redact(text: str) -> str:
    return _TOKEN_TEXT.sub(lambda match: f"{match.group(1)}[redacted]", text)
