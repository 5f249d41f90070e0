"""The cash ledger's rules on hand-made QBO objects: which postings move a bank account and by how much, cash as of a
day, flows and burn (transfers between the business's own banks count for nothing)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.domains.core.cash import (
    AccountKind,
    CashAccount,
    CashLedger,
    CashMovement,
    movements_of,
    postings_of,
)

CHECKING, SAVINGS, CARD, UNDEPOSITED, EXPENSE, EQUITY = "35", "36", "41", "4", "60", "7"
BANKS = frozenset({CHECKING, SAVINGS})
DAY = date(2026, 3, 18)


def ref(account_id: str) -> dict[str, str]:
    return {"value": account_id}


def moves(entity: str, raw: dict[str, Any], received_into: dict[tuple[str, str], str] | None = None) -> dict[str, str]:
    """What ``raw`` does to each bank account, as decimal strings."""
    found = movements_of(entity, "1", DAY, postings_of(entity, raw, received_into or {}), BANKS)
    return {movement.account_id: str(movement.amount) for movement in found}


def test_each_transaction_moves_its_bank_accounts_as_qbo_posts_it() -> None:
    assert moves("Payment", {"TotalAmt": Decimal("250.00"), "DepositToAccountRef": ref(CHECKING)}) == {
        CHECKING: "250.00"
    }
    # Received into Undeposited Funds: no bank has it until the Deposit.
    assert moves("Payment", {"TotalAmt": Decimal("250.00"), "DepositToAccountRef": ref(UNDEPOSITED)}) == {}
    assert moves("SalesReceipt", {"TotalAmt": 90, "DepositToAccountRef": ref(SAVINGS)}) == {SAVINGS: "90"}
    check = {"PayType": "Check", "TotalAmt": Decimal("75.10"), "CheckPayment": {"BankAccountRef": ref(CHECKING)}}
    assert moves("BillPayment", check) == {CHECKING: "-75.10"}
    by_card = {"PayType": "CreditCard", "TotalAmt": Decimal("75.10"), "CreditCardPayment": {"CCAccountRef": ref(CARD)}}
    assert moves("BillPayment", by_card) == {}
    assert moves("Purchase", {"TotalAmt": Decimal("12.00"), "AccountRef": ref(CHECKING)}) == {CHECKING: "-12.00"}
    refund = {"TotalAmt": Decimal("12.00"), "AccountRef": ref(CHECKING), "Credit": True}
    assert moves("Purchase", refund) == {CHECKING: "12.00"}
    transfer = {"Amount": Decimal("500.00"), "FromAccountRef": ref(SAVINGS), "ToAccountRef": ref(CHECKING)}
    assert moves("Transfer", transfer) == {SAVINGS: "-500.00", CHECKING: "500.00"}
    pay_the_card = {"Amount": Decimal("300.00"), "FromAccountRef": ref(CHECKING), "ToAccountRef": ref(CARD)}
    assert moves("Transfer", pay_the_card) == {CHECKING: "-300.00"}
    payroll = {
        "Line": [
            _journal_line("Debit", EXPENSE, "4000.00"),
            _journal_line("Credit", CHECKING, "3100.00"),
            _journal_line("Credit", SAVINGS, "900.00"),
            {"DetailType": "DescriptionOnly", "Amount": Decimal("1.00")},
        ]
    }
    assert moves("JournalEntry", payroll) == {CHECKING: "-3100.00", SAVINGS: "-900.00"}
    assert moves("Bill", {"TotalAmt": Decimal("10.00"), "AccountRef": ref(CHECKING)}) == {}  # not a cash event


def test_a_deposit_moves_its_bank_and_every_account_its_lines_take_money_from() -> None:
    deposit = {
        "TotalAmt": Decimal("1180.00"),
        "DepositToAccountRef": ref(CHECKING),
        "Line": [
            # Two checks received into Undeposited Funds, and one that (against QBO's rule) went to Savings first.
            {"Amount": Decimal("700.00"), "LinkedTxn": [{"TxnId": "51", "TxnType": "Payment"}]},
            {"Amount": Decimal("200.00"), "LinkedTxn": [{"TxnId": "9", "TxnType": "SalesReceipt"}]},
            {"Amount": Decimal("100.00"), "LinkedTxn": [{"TxnId": "52", "TxnType": "Payment"}]},
            # Money moved in from Savings on a plain line: a transfer in all but name.
            {"Amount": Decimal("250.00"), "DepositLineDetail": {"AccountRef": ref(SAVINGS)}},
            {"Amount": Decimal("30.00"), "DepositLineDetail": {"AccountRef": ref(EQUITY)}},
        ],
        "CashBack": {"AccountRef": ref(SAVINGS), "Amount": Decimal("100.00")},
    }
    received_into = {("Payment", "51"): UNDEPOSITED, ("SalesReceipt", "9"): UNDEPOSITED, ("Payment", "52"): SAVINGS}
    assert moves("Deposit", deposit, received_into) == {CHECKING: "1180.00", SAVINGS: "-250.00"}


def _journal_line(posting: str, account_id: str, amount: str) -> dict[str, Any]:
    return {
        "DetailType": "JournalEntryLineDetail",
        "Amount": Decimal(amount),
        "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": ref(account_id)},
    }


def account(account_id: str, balance: str, kind: AccountKind = AccountKind.BANK) -> CashAccount:
    return CashAccount(account_id, f"Account {account_id}", kind, Decimal(balance), True, "USD")


def move(days_before: int, account_id: str, amount: str, txn_id: str, entity: str = "Purchase") -> CashMovement:
    return CashMovement(DAY - timedelta(days=days_before), account_id, Decimal(amount), entity, txn_id)


def test_cash_as_of_a_day_leaves_out_what_moved_after_it() -> None:
    ledger = CashLedger(
        [account(CHECKING, "1000.00"), account(SAVINGS, "500.00"), account(CARD, "80.00", AccountKind.CREDIT_CARD)],
        [
            move(10, CHECKING, "300.00", "p1", "Payment"),
            move(3, CHECKING, "-120.00", "c1"),
            move(-2, SAVINGS, "-50.00", "f1"),  # dated after today: already in QBO's balance, not in today's cash
            move(5, CARD, "-999.00", "x1"),  # a card is not cash: ignored
        ],
    )
    assert ledger.cash_as_of(DAY) == Decimal("1550.00")
    assert ledger.cash_as_of(DAY - timedelta(days=3)) == Decimal("1550.00")  # a day's own movements are in it
    assert ledger.cash_as_of(DAY - timedelta(days=4)) == Decimal("1670.00")
    assert ledger.cash_as_of(DAY - timedelta(days=11)) == Decimal("1370.00")
    assert ledger.bank_balance_as_of(CHECKING, DAY - timedelta(days=4)) == Decimal("1120.00")
    assert ledger.bank_balance_as_of(SAVINGS, DAY) == Decimal("550.00")
    assert [found.account_id for found in ledger.balances()] == [CHECKING, SAVINGS, CARD]
    assert [found.txn_id for found in ledger.movements_between(DAY - timedelta(days=10), DAY)] == ["c1"]
    with pytest.raises(KeyError):
        ledger.bank_balance_as_of(CARD, DAY)


def test_burn_is_the_weekly_net_outflow_of_the_window_and_ignores_moves_between_own_banks() -> None:
    ledger = CashLedger(
        [account(CHECKING, "10000.00"), account(SAVINGS, "5000.00")],
        [
            move(90, CHECKING, "-9999.00", "old"),  # the day before the window opens
            move(89, CHECKING, "-7000.00", "rent"),
            move(40, CHECKING, "2500.00", "pay", "Payment"),
            move(20, SAVINGS, "-4000.00", "t1", "Transfer"),
            move(20, CHECKING, "4000.00", "t1", "Transfer"),
            move(0, CHECKING, "-3500.00", "payroll", "JournalEntry"),  # on the day itself: in
        ],
    )
    flows = ledger.flows(DAY - timedelta(days=90), DAY)
    assert (flows.inflows, flows.outflows, flows.net) == (Decimal("2500.00"), Decimal("10500.00"), Decimal("-8000.00"))
    assert ledger.burn(DAY) == Decimal("622.22")  # 8000 over 90 days, per 7 days
    assert ledger.burn(DAY, days=14) == Decimal("1750.00")
    assert ledger.burn(DAY - timedelta(days=30), days=14) == Decimal("-1250.00")  # the window only gained
    with pytest.raises(ValueError, match="at least one day"):
        ledger.burn(DAY, days=0)


amounts = st.decimals(min_value=-5000, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
movement_lists = st.lists(
    st.tuples(st.integers(min_value=0, max_value=120), st.sampled_from([CHECKING, SAVINGS]), amounts),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(movement_lists, st.integers(min_value=-5, max_value=125), st.integers(min_value=0, max_value=130))
def test_cash_between_two_days_changes_by_exactly_the_movements_between_them(
    raw_movements: list[tuple[int, str, Decimal]], first: int, span: int
) -> None:
    movements = [
        move(days, account_id, str(amount), f"t{n}") for n, (days, account_id, amount) in enumerate(raw_movements)
    ]
    ledger = CashLedger([account(CHECKING, "2500.00"), account(SAVINGS, "-40.00")], movements)
    start, end = DAY - timedelta(days=first), DAY - timedelta(days=first) + timedelta(days=span)

    between = ledger.movements_between(start, end)
    assert ledger.cash_as_of(end) - ledger.cash_as_of(start) == sum((m.amount for m in between), Decimal(0))
    assert ledger.flows(start, end).net == sum((m.amount for m in between), Decimal(0))
    assert all(start < m.day <= end for m in between)
    # And against the definition, counted by hand.
    later = sum((m.amount for m in movements if m.day > end), Decimal(0))
    assert ledger.cash_as_of(end) == Decimal("2460.00") - later
    assert sum((ledger.bank_balance_as_of(a, end) for a in (CHECKING, SAVINGS)), Decimal(0)) == ledger.cash_as_of(end)
