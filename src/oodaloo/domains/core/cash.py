"""Cash from the mirror: bank and credit-card balances, and every dated movement of a bank account, so that cash and
burn can be asked "as of" any day (``load_cash_ledger`` once, then pure questions of the ``CashLedger``).

A movement is what a live QBO transaction does to one bank account, as QBO posts it (a bank is an asset: a debit
adds). Sources: a Payment or SalesReceipt deposited to a bank (+), a Deposit (+ its total to the bank it goes to; a
line taken from a bank, or cash back to one, moves that bank too), a BillPayment by check (-), a Purchase from a bank
(-; a refund +), a Transfer (- from, + to), and JournalEntry lines on a bank (debit +, credit -). Voided and deleted
transactions move nothing. Payments received into Undeposited Funds reach the bank with their Deposit, not before.

QBO's ``CurrentBalance`` of an account counts every transaction whatever its date, so the cash at the end of a day is
today's balance less the movements dated after that day: ``cash_as_of`` needs no opening balance and agrees with QBO
today by construction. Amounts are in each account's own currency (the mirror holds no exchange rates); a business
with foreign-currency bank accounts gets their balances summed as they are.
"""

from __future__ import annotations

import bisect
import enum
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.core.schemas import BalancesOut, BankBalanceOut, CardBalanceOut
from oodaloo.domains.qbo.mirror_models import (
    MIRRORED,
    MirroredAccount,
    MirroredBillPayment,
    MirroredPayment,
    MirroredPurchase,
    MirroredSalesReceipt,
    MirrorStatus,
    Raw,
    money,
    ref_id,
)
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository
from oodaloo.infra.collector import collector_paused
from oodaloo.infra.db.rows import column_rows
from oodaloo.infra.exact_json import loads_exact

ZERO = Decimal("0.00")
CENTS = Decimal("0.01")
BANK_TYPE = "Bank"
CREDIT_CARD_TYPE = "Credit Card"
DEFAULT_BURN_DAYS = 90
DAYS_PER_WEEK = 7
# A transaction with no TxnDate (QBO always sets one; a hand-made object might not) counts as dated before all others:
# it is in today's balance and in every past one.
UNDATED = date.min


class AccountKind(enum.StrEnum):
    BANK = "bank"
    CREDIT_CARD = "credit_card"


@dataclass(frozen=True)
class CashAccount:
    """A bank or credit-card account with QBO's current balance (for a card, what is owed on it)."""

    account_id: str  # QBO's Id
    name: str
    kind: AccountKind
    balance: Decimal
    active: bool
    currency: str | None


@dataclass(frozen=True)
class CashMovement:
    """Money into (+) or out of (-) one bank account on one day, from one QBO transaction."""

    day: date
    account_id: str
    amount: Decimal
    entity: str  # QBO's type: Payment, Deposit, Transfer, ...
    txn_id: str


@dataclass(frozen=True)
class CashFlows:
    """Money in and out of the bank accounts together over a span. Each transaction counts by its net effect on them,
    so a transfer between the business's own bank accounts is neither."""

    inflows: Decimal
    outflows: Decimal

    @property
    def net(self) -> Decimal:
        return self.inflows - self.outflows


class CashLedger:
    """A business's bank and card accounts and its bank movements, loaded once; every question is pure and answers
    "as of" a day from the transactions dated on or before it."""

    def __init__(self, accounts: Iterable[CashAccount], movements: Iterable[CashMovement]) -> None:
        kind_order = {AccountKind.BANK: 0, AccountKind.CREDIT_CARD: 1}
        self.accounts: tuple[CashAccount, ...] = tuple(
            sorted(accounts, key=lambda account: (kind_order[account.kind], account.name.lower(), account.account_id))
        )
        banks = {account.account_id for account in self.accounts if account.kind is AccountKind.BANK}
        self.movements: tuple[CashMovement, ...] = tuple(
            sorted(
                (movement for movement in movements if movement.account_id in banks),
                key=lambda movement: (movement.day, movement.entity, movement.txn_id, movement.account_id),
            )
        )
        self._bank_total = sum((account.balance for account in self.bank_accounts), ZERO)
        self._days = [movement.day for movement in self.movements]
        # _after[i]: the sum of movements[i:], so "moved after a day" is one bisection.
        self._after = [ZERO] * (len(self.movements) + 1)
        for index in range(len(self.movements) - 1, -1, -1):
            self._after[index] = self._after[index + 1] + self.movements[index].amount
        self._flow_days, self._inflows_until, self._outflows_until = _cumulative_flows(self.movements)

    @property
    def bank_accounts(self) -> tuple[CashAccount, ...]:
        return tuple(account for account in self.accounts if account.kind is AccountKind.BANK)

    @property
    def card_accounts(self) -> tuple[CashAccount, ...]:
        return tuple(account for account in self.accounts if account.kind is AccountKind.CREDIT_CARD)

    def balances(self) -> tuple[CashAccount, ...]:
        """Every bank and card account with its balance as QBO shows it now (banks first, then by name)."""
        return self.accounts

    def cash_as_of(self, day: date) -> Decimal:
        """Cash in all bank accounts at the end of ``day``: today's balances less what moved after it."""
        return self._bank_total - self._after[bisect.bisect_right(self._days, day)]

    def bank_balance_as_of(self, account_id: str, day: date) -> Decimal:
        """One bank account's balance at the end of ``day``."""
        account = next((found for found in self.bank_accounts if found.account_id == account_id), None)
        if account is None:
            raise KeyError(f"no bank account {account_id}")
        start = bisect.bisect_right(self._days, day)
        later = sum((moved.amount for moved in self.movements[start:] if moved.account_id == account_id), ZERO)
        return account.balance - later

    def movements_between(self, after: date, through: date) -> list[CashMovement]:
        """The movements dated after ``after`` and on or before ``through``, oldest first."""
        start = bisect.bisect_right(self._days, after)
        end = bisect.bisect_right(self._days, through)
        return list(self.movements[start:end])

    def flows(self, after: date, through: date) -> CashFlows:
        """Money in and out of the bank accounts over the days after ``after`` through ``through``."""
        start = bisect.bisect_right(self._flow_days, after)
        end = bisect.bisect_right(self._flow_days, through)
        return CashFlows(
            inflows=self._inflows_until[end] - self._inflows_until[start],
            outflows=self._outflows_until[end] - self._outflows_until[start],
        )

    def burn(self, as_of: date, days: int = DEFAULT_BURN_DAYS) -> Decimal:
        """The average weekly net outflow over the ``days`` ending with ``as_of`` (to the cent): what the bank
        accounts lost per week; negative when they gained. Transfers between them do not count."""
        if days <= 0:
            raise ValueError("the burn window must be at least one day")
        flows = self.flows(as_of - timedelta(days=days), as_of)
        weekly = (flows.outflows - flows.inflows) * DAYS_PER_WEEK / days
        return weekly.quantize(CENTS, rounding=ROUND_HALF_UP)


def _cumulative_flows(movements: Sequence[CashMovement]) -> tuple[list[date], list[Decimal], list[Decimal]]:
    """Each transaction's net effect on the bank accounts together, by day, as running totals of money in and out."""
    net_by_txn: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    day_of: dict[tuple[str, str], date] = {}
    for movement in movements:
        key = (movement.entity, movement.txn_id)
        net_by_txn[key] += movement.amount
        day_of[key] = movement.day
    ordered = sorted(net_by_txn, key=lambda key: day_of[key])
    days = [day_of[key] for key in ordered]
    inflows, outflows = [ZERO], [ZERO]
    for key in ordered:
        net = net_by_txn[key]
        inflows.append(inflows[-1] + max(net, ZERO))
        outflows.append(outflows[-1] + max(-net, ZERO))
    return days, inflows, outflows


# -- reading movements out of QBO's transactions ---------------------------------------------------------------------

Posting = tuple[str | None, Decimal | None]  # (account id, debit: + into the account, - out of it)


def _line_postings(raw: Raw) -> Iterator[tuple[Raw, Decimal | None]]:
    for line in raw.get("Line") or []:
        if isinstance(line, dict):
            yield line, money(line, "Amount")


def _received(raw: Raw) -> Iterator[Posting]:
    """Payment, SalesReceipt: the whole amount into the account it was deposited to."""
    yield ref_id(raw, "DepositToAccountRef"), money(raw, "TotalAmt")


def _deposit(raw: Raw, received_into: dict[tuple[str, str], str]) -> Iterator[Posting]:
    yield ref_id(raw, "DepositToAccountRef"), money(raw, "TotalAmt")
    for line, amount in _line_postings(raw):
        if amount is None:
            continue
        links = line.get("LinkedTxn")
        if isinstance(links, list) and links and isinstance(links[0], dict):
            # Money received earlier leaves the account it was received into (Undeposited Funds, as a rule).
            link = links[0]
            yield received_into.get((str(link.get("TxnType", "Payment")), str(link.get("TxnId")))), -amount
        else:
            yield ref_id(line.get("DepositLineDetail") or {}, "AccountRef"), -amount
    cash_back = raw.get("CashBack")
    if isinstance(cash_back, dict):
        yield ref_id(cash_back, "AccountRef"), money(cash_back, "Amount")


def _bill_payment(raw: Raw) -> Iterator[Posting]:
    if raw.get("PayType") == "Check":
        amount = money(raw, "TotalAmt")
        yield ref_id(raw.get("CheckPayment") or {}, "BankAccountRef"), None if amount is None else -amount


def _purchase(raw: Raw) -> Iterator[Posting]:
    amount = money(raw, "TotalAmt")
    if amount is not None:
        yield ref_id(raw, "AccountRef"), amount if raw.get("Credit") is True else -amount


def _transfer(raw: Raw) -> Iterator[Posting]:
    amount = money(raw, "Amount")
    if amount is not None:
        yield ref_id(raw, "FromAccountRef"), -amount
        yield ref_id(raw, "ToAccountRef"), amount


def _journal_entry(raw: Raw) -> Iterator[Posting]:
    for line, amount in _line_postings(raw):
        detail = line.get("JournalEntryLineDetail")
        if not isinstance(detail, dict) or amount is None:
            continue
        yield ref_id(detail, "AccountRef"), amount if detail.get("PostingType") == "Debit" else -amount


def movements_of(
    entity: str, txn_id: str, day: date, postings: Iterable[Posting], banks: frozenset[str]
) -> list[CashMovement]:
    """The postings of one transaction that land on a bank account, as movements (one per account)."""
    by_account: dict[str, Decimal] = defaultdict(Decimal)
    for account_id, amount in postings:
        if account_id in banks and amount:
            by_account[account_id] += amount
    return [
        CashMovement(day, account_id, amount, entity, txn_id) for account_id, amount in by_account.items() if amount
    ]


def postings_of(entity: str, raw: Raw, received_into: dict[tuple[str, str], str]) -> Iterator[Posting]:
    """What a QBO transaction posts to accounts that can be banks (pure: from its object alone, and for a Deposit the
    accounts the money it gathers was received into)."""
    if entity in ("Payment", "SalesReceipt"):
        return _received(raw)
    if entity == "Deposit":
        return _deposit(raw, received_into)
    readers: dict[str, Callable[[Raw], Iterator[Posting]]] = {
        "BillPayment": _bill_payment,
        "Purchase": _purchase,
        "Transfer": _transfer,
        "JournalEntry": _journal_entry,
    }
    reader = readers.get(entity)
    return reader(raw) if reader is not None else iter(())


# -- loading from the mirror -----------------------------------------------------------------------------------------


async def load_cash_ledger(session: AsyncSession, business_id: uuid.UUID) -> CashLedger:
    """The business's bank and card accounts (active or not; deleted ones are gone) and every movement of its bank
    accounts from live transactions in the mirror: the columns needed and each raw object as text, every row fetched
    before the ledger is built with the cyclic garbage collector held off."""
    accounts = await _cash_accounts(session, business_id)
    banks = frozenset(account.account_id for account in accounts if account.kind is AccountKind.BANK)
    if not banks:
        return CashLedger(accounts, ())
    # Payments, receipts, bill payments and purchases say which account they use in an indexed column: only those on
    # a bank are read. Deposits, transfers and journal entries can touch a bank on any line: all live ones are read.
    banked = {
        "Payment": MirroredPayment.deposit_account_id,
        "SalesReceipt": MirroredSalesReceipt.deposit_account_id,
        "BillPayment": MirroredBillPayment.account_id,
        "Purchase": MirroredPurchase.account_id,
    }
    fetched: list[tuple[str, Sequence[tuple[str, date | None, str]]]] = []
    for entity in ("Payment", "SalesReceipt", "BillPayment", "Purchase", "Deposit", "Transfer", "JournalEntry"):
        model: Any = MIRRORED[entity]
        statement = select(model.qbo_id, model.txn_date, type_coerce(model.raw, Text)).where(
            model.business_id == business_id, model.status == MirrorStatus.ACTIVE
        )
        if entity in banked:
            statement = statement.where(banked[entity].in_(banks))
        fetched.append((entity, await column_rows(session, statement)))
    # Everything is fetched: what follows is pure computation, with no await for another task to run during.
    with collector_paused():
        movements: list[CashMovement] = []
        received_into: dict[tuple[str, str], str] = {}
        for entity, rows in fetched:  # payments and receipts first: a deposit moves the money they received
            for qbo_id, txn_date, raw_text in rows:
                raw: Raw = loads_exact(raw_text)  # amounts are money: Decimal, never float
                day = txn_date or UNDATED
                if entity in ("Payment", "SalesReceipt"):
                    account = ref_id(raw, "DepositToAccountRef")
                    if account is not None:
                        received_into[(entity, qbo_id)] = account
                movements += movements_of(entity, qbo_id, day, postings_of(entity, raw, received_into), banks)
        return CashLedger(accounts, movements)


async def _cash_accounts(session: AsyncSession, business_id: uuid.UUID) -> list[CashAccount]:
    rows = await session.execute(
        select(
            MirroredAccount.qbo_id,
            MirroredAccount.account_type,
            MirroredAccount.name,
            MirroredAccount.current_balance,
            MirroredAccount.status,
            type_coerce(MirroredAccount.raw, Text),
        ).where(
            MirroredAccount.business_id == business_id,
            MirroredAccount.status != MirrorStatus.DELETED,
            MirroredAccount.account_type.in_((BANK_TYPE, CREDIT_CARD_TYPE)),
        )
    )
    found = []
    for qbo_id, account_type, stored_name, balance, status, raw_text in rows:
        raw: Raw = loads_exact(raw_text)
        kind = AccountKind.BANK if account_type == BANK_TYPE else AccountKind.CREDIT_CARD
        name = raw.get("FullyQualifiedName") or stored_name or qbo_id
        found.append(
            CashAccount(
                account_id=qbo_id,
                name=str(name),
                kind=kind,
                balance=balance if balance is not None else ZERO,
                active=status is MirrorStatus.ACTIVE,
                currency=ref_id(raw, "CurrencyRef"),
            )
        )
    return found


class CashService:
    """Cash figures for the API, from the ledger."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def balances(self, business: Business) -> BalancesOut:
        """Cash per bank account and in total at the end of the business's today, and what is owed on each card."""
        ledger = await load_cash_ledger(self.session, business.id)
        today = business.today()
        state = await SyncStateRepository(self.session, business.id).current()
        synced_at: datetime | None = None
        if state is not None and state.cdc_cursor is not None:
            synced_at = state.cdc_cursor
        return BalancesOut(
            as_of=today,
            currency=business.currency,
            last_synced_at=synced_at,
            total_cash=ledger.cash_as_of(today),
            bank_accounts=[
                BankBalanceOut(
                    account_id=account.account_id,
                    name=account.name,
                    balance=ledger.bank_balance_as_of(account.account_id, today),
                    active=account.active,
                    currency=account.currency,
                )
                for account in ledger.bank_accounts
            ],
            credit_cards=[
                CardBalanceOut(
                    account_id=account.account_id,
                    name=account.name,
                    balance=account.balance,
                    active=account.active,
                    currency=account.currency,
                )
                for account in ledger.card_accounts
            ],
            total_card_balance=sum((account.balance for account in ledger.card_accounts), ZERO),
        )
