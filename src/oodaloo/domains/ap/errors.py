"""Why paying a bill can fail, as API errors with stable codes — and ``api_error_from``, the one place QBO and
SmartSync failures become them."""

from __future__ import annotations

from oodaloo.domains.qbo.auth import NOT_CONNECTED_MESSAGE
from oodaloo.domains.qbo.errors import (
    QBOError,
    QBONotFound,
    QBOReconnectRequired,
    QBOThrottled,
    QBOUnavailableError,
    QBOValidationError,
)
from oodaloo.infra.web.errors import AppError, Conflict, InvalidInput, NotFound

# How long a client should wait before trying again when QuickBooks is unavailable (the circuit's open period).
RETRY_AFTER_SECONDS = 30
QBO_VALIDATION_CODE = "qbo_validation"
RECONNECT_REQUIRED_CODE = "qbo_reconnect_required"
NOT_CONNECTED_CODE = "qbo_not_connected"

# QBO's element names (API_NOTES §8) → the request field the client can change.
_FIELD_OF_ELEMENT = {
    "TotalAmt": "amount",
    "Line.Amount": "amount",
    # A BillPayment line only carries the amount and the bill; QBO names "Line" when the amount exceeds the balance.
    "Line": "amount",
    "Amount": "amount",
    "TxnDate": "payment_date",
    "CheckPayment.BankAccountRef": "pay_from_account_id",
    "BankAccountRef": "pay_from_account_id",
    "CreditCardPayment.CCAccountRef": "pay_from_account_id",
    "CCAccountRef": "pay_from_account_id",
    "PayType": "pay_from_account_id",
    "Line.LinkedTxn": "bill_id",
    "Line.LinkedTxn.TxnId": "bill_id",
    "LinkedTxn": "bill_id",
    "VendorRef": "bill_id",
}


def field_of_element(element: str | None) -> str | None:
    """Our field for a QBO element; an element we cannot map is passed on as QBO named it."""
    if not element:
        return None
    return _FIELD_OF_ELEMENT.get(element, element)


class BillNotFound(NotFound):
    code = "not_found"
    message = "No such bill in QuickBooks."

    def __init__(self, bill_id: str) -> None:
        super().__init__(f"QuickBooks has no bill {bill_id}.", field="bill_id")


class BillAlreadyPaid(InvalidInput):
    code = "bill_already_paid"

    def __init__(self, bill_id: str) -> None:
        super().__init__(f"Bill {bill_id} is already paid in full.", field="bill_id")


class AmountOverBalance(InvalidInput):
    code = "amount_over_balance"

    def __init__(self, amount: str, balance: str) -> None:
        super().__init__(f"The amount {amount} is more than the bill's open balance {balance}.", field="amount")


class AccountNotUsable(InvalidInput):
    code = "account_not_usable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="pay_from_account_id")


class QBORejected(InvalidInput):
    """QuickBooks refused the write itself (a validation fault)."""

    code = QBO_VALIDATION_CODE

    def __init__(self, message: str, *, field: str | None, code: str = QBO_VALIDATION_CODE) -> None:
        super().__init__(message, field=field)
        self.code = code


class IdempotencyKeyConflict(Conflict):
    code = "idempotency_conflict"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different payment; use a new key for a new payment.",
            field="Idempotency-Key",
        )


class QBONotConnected(Conflict):
    code = NOT_CONNECTED_CODE

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or NOT_CONNECTED_MESSAGE)


class QBOReconnectNeeded(Conflict):
    code = RECONNECT_REQUIRED_CODE


class QBOUnavailableNow(AppError):
    status_code = 503
    code = "qbo_unavailable"
    message = "QuickBooks is not answering right now; try again shortly."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class PaymentFailed(InvalidInput):
    """The recorded action ended ``failed`` for a reason that is not one of the errors above."""

    code = "payment_failed"

    def __init__(self, message: str, *, code: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.code = code


def connection_error(message: str) -> AppError:
    """A 409 saying the connection needs a person: never connected (or disconnected), or connect again."""
    if message == NOT_CONNECTED_MESSAGE:
        return QBONotConnected(message)
    return QBOReconnectNeeded(message)


def api_error_from(error: QBOError, *, bill_id: str) -> AppError:
    """The API error for a QBO failure while validating a payment (reads: nothing was written)."""
    if isinstance(error, QBOReconnectRequired):
        return connection_error(error.message)
    if isinstance(error, QBONotFound):
        return BillNotFound(bill_id)
    if isinstance(error, QBOValidationError):
        return QBORejected(qbo_message(error), field=field_of_element(error.element))
    if isinstance(error, QBOUnavailableError | QBOThrottled) or error.is_transient:
        return QBOUnavailableNow()
    return QBOUnavailableNow(f"QuickBooks could not be asked about this bill ({error.message}); try again shortly.")


def listing_error(error: QBOError) -> AppError:
    """The API error for a QBO failure while reading the open bills (nothing the client sent can be wrong)."""
    if isinstance(error, QBOReconnectRequired):
        return connection_error(error.message)
    if isinstance(error, QBOUnavailableError | QBOThrottled) or error.is_transient:
        return QBOUnavailableNow()
    return QBOUnavailableNow(f"QuickBooks could not list the open bills ({error.message}); try again shortly.")


def failed_action_error(code: str | None, message: str | None, field: str | None) -> AppError:
    """The API error for an action that ended ``failed`` with ``code`` (see PayBillHandler's rejections)."""
    text = message or "QuickBooks did not accept the payment."
    if code == RECONNECT_REQUIRED_CODE:
        return connection_error(text)
    if code == QBO_VALIDATION_CODE:
        return QBORejected(text, field=field)
    return PaymentFailed(text, code=code or "payment_failed", field=field)


def qbo_message(error: QBOError) -> str:
    """QBO's message with its detail, which says what exactly was wrong."""
    if error.detail and error.detail != error.message:
        return f"QuickBooks refused the payment: {error.message}: {error.detail}"
    return f"QuickBooks refused the payment: {error.message}"
