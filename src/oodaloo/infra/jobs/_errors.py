"""The errors SmartSync raises, in one tree under ``SmartSyncError`` (re-exported by ``smart_sync``)."""

from __future__ import annotations

import math

from oodaloo.infra.http import HttpResponse


class SmartSyncError(Exception):
    """Base of the errors SmartSync raises."""


class ReconnectRequired(SmartSyncError):
    """QBO rejected the refresh token: the business must connect QuickBooks again."""


class NotConnected(ReconnectRequired):
    """The business has no connection to use (never connected, or disconnected): someone must connect it."""


class QBOUnavailable(SmartSyncError):
    """QBO cannot serve this company now; try again after ``retry_after_seconds``.

    SmartSync raises it while the realm's circuit is open (QBO has been failing, so calls are refused without reaching
    it); a domain service raises it when a read failed for a reason that passes (throttled, QBO's 5xx, no answer).
    It is the one "QuickBooks unavailable" error: it travels unchanged to the web layer, which answers 503 with
    ``Retry-After``.
    """

    def __init__(
        self,
        realm_id: str,
        *,
        retry_after_seconds: float,
        may_have_reached_qbo: bool = False,
        message: str | None = None,
    ) -> None:
        self.realm_id = realm_id
        self.retry_after_seconds = retry_after_seconds
        # True when an earlier attempt of this same write was sent before the circuit opened.
        self.may_have_reached_qbo = may_have_reached_qbo
        self.message = message or f"QBO is having trouble; try again in {math.ceil(retry_after_seconds)} s"
        super().__init__(self.message)


class RetriesExhausted(SmartSyncError):
    """Every attempt failed with a retryable error; the last response (or transport error kind) says how."""

    def __init__(
        self,
        *,
        attempts: int,
        last_response: HttpResponse | None,
        transport_error_kind: str | None,
        may_have_reached_qbo: bool,
    ) -> None:
        outcome = f"HTTP {last_response.status}" if last_response is not None else transport_error_kind
        super().__init__(f"QBO call failed after {attempts} attempts ({outcome})")
        self.attempts = attempts
        self.last_response = last_response
        self.transport_error_kind = transport_error_kind
        self.may_have_reached_qbo = may_have_reached_qbo


class DeadlineExceeded(SmartSyncError):
    """The call could not complete before its deadline. ``may_have_reached_qbo``: a write may have been applied."""

    def __init__(self, *, may_have_reached_qbo: bool) -> None:
        super().__init__("QBO did not answer in time")
        self.may_have_reached_qbo = may_have_reached_qbo
