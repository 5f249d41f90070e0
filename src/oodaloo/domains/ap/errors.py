"""Why listing or paying bills can fail, as API errors with stable codes — and the functions that turn QBO and SmartSync
failures into them. Every decision here is made on a type or a stored code, never on a message's text."""

from __future__ import annotations

from oodaloo.domains.qbo.auth import NOT_CONNECTED_MESSAGE, RECONNECT_MESSAGE, ConnectionState
from oodaloo.domains.qbo.errors import QBOError, QBONotConnected, QBONotFound, QBOReconnectRequired, QBOValidationError
from oodaloo.infra.jobs.smart_sync import QBOUnavailable
from oodaloo.infra.web.errors import AppError, Conflict, InvalidInput, NotFound

# How long a client should wait before asking again after a read QuickBooks could not serve (throttled, its 5xx,
# no answer): SmartSync has already retried within the user's deadline, so the next try is worth a short pause.
READ_RETRY_AFTER_SECONDS = 30
QBO_VALIDATION_CODE = "qbo_validation"
RECONNECT_REQUIRED_CODE = "qbo_reconnect_required"
NOT_CONNECTED_CODE = "qbo_not_connected"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

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


class PaymentDateOutOfRange(InvalidInput):
    code = "payment_date_out_of_range"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="payment_date")


class QBORejected(InvalidInput):
    """QuickBooks refused the write itself (a validation fault)."""

    code = QBO_VALIDATION_CODE

    def __init__(self, message: str, *, field: str | None) -> None:
        super().__init__(message, field=field)


class QuickBooksNotConnected(Conflict):
    """No connection to QuickBooks: never connected, or disconnected."""

    code = NOT_CONNECTED_CODE
    message = NOT_CONNECTED_MESSAGE


class QuickBooksReconnectNeeded(Conflict):
    """QuickBooks no longer accepts the connection: a person must connect it again."""

    code = RECONNECT_REQUIRED_CODE
    message = RECONNECT_MESSAGE


class PaymentFailed(InvalidInput):
    """The recorded action ended ``failed`` for a reason that is not one of the errors above."""

    code = "payment_failed"

    def __init__(self, message: str, *, code: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.code = code


def not_connected_error(state: ConnectionState) -> Conflict:
    """The 409 for a business whose connection cannot be used, by its status."""
    if state.status == "needs_reconnect":
        return QuickBooksReconnectNeeded(state.message)
    return QuickBooksNotConnected()


def connection_error(error: QBOReconnectRequired) -> Conflict:
    """The 409 for a call refused for want of a usable connection (raised before anything reached QBO)."""
    if isinstance(error, QBONotConnected):
        return QuickBooksNotConnected(error.message)
    return QuickBooksReconnectNeeded(error.message)


def read_error(error: QBOError, realm_id: str) -> AppError | QBOUnavailable:
    """The error for a read that failed where nothing the client sent can be wrong (a listing): the connection needs a
    person (409), or QuickBooks could not serve it now (503 with Retry-After)."""
    if isinstance(error, QBOReconnectRequired):
        return connection_error(error)
    return QBOUnavailable(realm_id, retry_after_seconds=READ_RETRY_AFTER_SECONDS, message=str(error))


def lookup_error(error: QBOError, *, bill_id: str, realm_id: str) -> AppError | QBOUnavailable:
    """The error for a read that checks a payment before it is made (nothing was written)."""
    if isinstance(error, QBONotFound):
        return BillNotFound(bill_id)
    if isinstance(error, QBOValidationError):
        return QBORejected(qbo_message(error), field=field_of_element(error.element))
    return read_error(error, realm_id)


def failed_action_error(code: str | None, message: str | None, field: str | None) -> AppError:
    """The API error for an action that ended ``failed`` with ``code`` (see PayBillHandler's rejections)."""
    text = message or "QuickBooks did not accept the payment."
    if code == NOT_CONNECTED_CODE:
        return QuickBooksNotConnected(text)
    if code == RECONNECT_REQUIRED_CODE:
        return QuickBooksReconnectNeeded(text)
    if code == QBO_VALIDATION_CODE:
        return QBORejected(text, field=field)
    return PaymentFailed(text, code=code or "payment_failed", field=field)


def qbo_message(error: QBOError, what: str = "the payment") -> str:
    """QBO's message with its detail, which says what exactly was wrong with ``what`` it refused."""
    if error.detail and error.detail != error.message:
        return f"QuickBooks refused {what}: {error.message}: {error.detail}"
    return f"QuickBooks refused {what}: {error.message}"
