"""A plain cash-runway estimate over QBO-shaped objects (API output or create bodies), for tests.

Runway, in weeks = cash in bank accounts today / average weekly net outflow from bank accounts over
the trailing 13 weeks (the 91 days ending today). Net outflow = money leaving bank accounts (checks and
debits, bill payments by check) minus money arriving (payments deposited straight to a bank account,
deposits). When that average is zero or negative the business is not burning cash: runway is infinite.

Open receivables are deliberately not added to the cash: the trailing inflows already stand for the
rate at which receivables turn into cash, so adding the open balance as well would count it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

TRAILING_WEEKS = 13
INFINITE = Decimal("Infinity")

Obj = Mapping[str, Any]


def bank_account_ids(accounts: Iterable[Obj]) -> set[str]:
    return {str(account["Id"]) for account in accounts if account.get("AccountType") == "Bank"}


def cash_in_bank(accounts: Iterable[Obj]) -> Decimal:
    """Cash per the accounts' ``CurrentBalance`` (API output)."""
    return sum((_decimal(a.get("CurrentBalance", 0)) for a in accounts if a.get("AccountType") == "Bank"), Decimal(0))


def total(obj: Obj) -> Decimal:
    """``TotalAmt`` when present (output), else the sum of the lines (create bodies)."""
    if obj.get("TotalAmt") not in (None, ""):
        return _decimal(obj["TotalAmt"])
    return sum(
        (
            _decimal(line.get("Amount", 0))
            for line in obj.get("Line", [])
            if line.get("DetailType") != "SubTotalLineDetail"
        ),
        Decimal(0),
    )


def bank_movements(
    *,
    accounts: Iterable[Obj],
    purchases: Iterable[Obj] = (),
    bill_payments: Iterable[Obj] = (),
    payments: Iterable[Obj] = (),
    deposits: Iterable[Obj] = (),
    sales_receipts: Iterable[Obj] = (),
    transfers: Iterable[Obj] = (),
    journal_entries: Iterable[Obj] = (),
) -> list[tuple[date, Decimal]]:
    """Every movement of money into (+) or out of (-) a bank account, with its date (a transfer between two bank
    accounts moves nothing)."""
    banks = bank_account_ids(accounts)
    moves: list[tuple[date, Decimal]] = []
    for payment in payments:
        if _ref(payment, "DepositToAccountRef") in banks:
            moves.append((_date(payment), total(payment)))
    for deposit in deposits:
        if _ref(deposit, "DepositToAccountRef") in banks:
            moves.append((_date(deposit), total(deposit)))
    for purchase in purchases:
        if _ref(purchase, "AccountRef") in banks:
            sign = 1 if purchase.get("Credit") is True else -1
            moves.append((_date(purchase), sign * total(purchase)))
    for bill_payment in bill_payments:
        check = bill_payment.get("CheckPayment") or {}
        if bill_payment.get("PayType") == "Check" and str(check.get("BankAccountRef", {}).get("value")) in banks:
            moves.append((_date(bill_payment), -total(bill_payment)))
    for receipt in sales_receipts:
        if _ref(receipt, "DepositToAccountRef") in banks:
            moves.append((_date(receipt), total(receipt)))
    for transfer in transfers:
        amount = _decimal(transfer["Amount"])
        if _ref(transfer, "ToAccountRef") in banks:
            moves.append((_date(transfer), amount))
        if _ref(transfer, "FromAccountRef") in banks:
            moves.append((_date(transfer), -amount))
    for entry in journal_entries:
        for line in entry.get("Line", []):
            detail = line.get("JournalEntryLineDetail")
            if detail is not None and _ref(detail, "AccountRef") in banks:
                sign = 1 if detail["PostingType"] == "Debit" else -1
                moves.append((_date(entry), sign * _decimal(line["Amount"])))
    return moves


def weekly_net_outflow(moves: Iterable[tuple[date, Decimal]], *, today: date) -> Decimal:
    since = today - timedelta(days=TRAILING_WEEKS * 7)
    return -sum((amount for day, amount in moves if since < day <= today), Decimal(0)) / TRAILING_WEEKS


def estimate_runway_weeks(*, bank_balance: Decimal, moves: Iterable[tuple[date, Decimal]], today: date) -> Decimal:
    """Weeks of runway (``INFINITE`` when cash is not shrinking); see the module docstring."""
    burn = weekly_net_outflow(moves, today=today)
    if burn <= 0:
        return INFINITE
    return max(bank_balance, Decimal(0)) / burn


def _ref(obj: Obj, field: str) -> str | None:
    ref = obj.get(field)
    return str(ref["value"]) if isinstance(ref, Mapping) and "value" in ref else None


def _date(obj: Obj) -> date:
    return date.fromisoformat(str(obj["TxnDate"]))


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
