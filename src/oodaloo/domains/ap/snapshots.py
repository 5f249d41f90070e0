"""Short-lived snapshots of a company's open bills and pay-from accounts in SmartSync's cache, for a business whose
mirror was never synced: paying a bill the user has just seen listed is checked locally, and QuickBooks checks it
again when the payment is created. (Once synced, the mirror is what a payment is checked against.)"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from oodaloo.domains.ap.actions import CHECK, CREDIT_CARD
from oodaloo.domains.ap.errors import AccountNotUsable, AmountOverBalance, BillAlreadyPaid
from oodaloo.domains.ap.schemas import CENTS
from oodaloo.domains.qbo.errors import QBOServerError
from oodaloo.domains.qbo.schemas import Account, Bill
from oodaloo.infra.jobs.smart_sync import ON_DEMAND_STALE_SECONDS, SmartSyncService

# As fresh as a page the user opened must be (SmartSync's on-demand freshness); the cache drops them after that.
SNAPSHOT_TTL_SECONDS = ON_DEMAND_STALE_SECONDS
PAY_TYPE_OF_ACCOUNT = {"Bank": CHECK, "Credit Card": CREDIT_CARD}


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENTS))


@dataclass(frozen=True)
class BillSnapshot:
    """What paying a bill needs to know about it."""

    bill_id: str
    vendor_id: str
    balance: Decimal
    due_date: date | None
    doc_number: str | None

    @classmethod
    def of(cls, bill: Bill, bill_id: str) -> BillSnapshot:
        if bill.vendor_ref is None:
            raise QBOServerError(f"QuickBooks sent bill {bill_id} without its vendor")
        return cls(
            bill_id=bill_id,
            vendor_id=bill.vendor_ref.value,
            balance=bill.balance if bill.balance is not None else Decimal(0),
            due_date=bill.due_date,
            doc_number=bill.doc_number,
        )

    def can_pay(self, amount: Decimal) -> bool:
        return 0 < amount <= self.balance

    def check_payable(self, amount: Decimal) -> None:
        if self.balance <= 0:
            raise BillAlreadyPaid(self.bill_id)
        if amount > self.balance:
            raise AmountOverBalance(money(amount), money(self.balance))

    def after_paying(self, amount: Decimal) -> BillSnapshot:
        return replace(self, balance=self.balance - amount)

    def to_cache(self) -> dict[str, Any]:
        return {
            "vendor_id": self.vendor_id,
            "balance": str(self.balance),
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "doc_number": self.doc_number,
        }

    @classmethod
    def from_cache(cls, bill_id: str, value: Any) -> BillSnapshot | None:
        """None for anything but a snapshot this module wrote (it is then simply read from QuickBooks again)."""
        try:
            due_date = value["due_date"]
            return cls(
                bill_id=bill_id,
                vendor_id=str(value["vendor_id"]),
                balance=Decimal(str(value["balance"])),
                due_date=date.fromisoformat(due_date) if due_date else None,
                doc_number=value["doc_number"],
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            return None


@dataclass(frozen=True)
class AccountSnapshot:
    """What paying from an account needs to know about it."""

    account_id: str
    account_type: str | None
    active: bool
    name: str | None

    @classmethod
    def of(cls, account: Account, account_id: str) -> AccountSnapshot:
        return cls(account_id, account.account_type, account.active is not False, account.name)

    @property
    def usable(self) -> bool:
        return self.active and self.account_type in PAY_TYPE_OF_ACCOUNT

    def pay_type(self) -> str:
        """``Check`` for a Bank account, ``CreditCard`` for a Credit Card account; AccountNotUsable otherwise."""
        label = self.name or self.account_id
        if not self.active:
            raise AccountNotUsable(f"Account {label} is inactive in QuickBooks.")
        pay_type = PAY_TYPE_OF_ACCOUNT.get(self.account_type or "")
        if pay_type is None:
            raise AccountNotUsable(
                f"Bills are paid from a Bank or Credit Card account; {label} is "
                f"{self.account_type or 'of no known type'}."
            )
        return pay_type

    def to_cache(self) -> dict[str, Any]:
        return {"type": self.account_type, "active": self.active, "name": self.name}

    @classmethod
    def from_cache(cls, account_id: str, value: Any) -> AccountSnapshot | None:
        try:
            return cls(account_id, value["type"], bool(value["active"]), value["name"])
        except (KeyError, TypeError):
            return None


class SnapshotCache:
    """The snapshots of one QBO company (keys carry the realm id: two businesses on one company share them)."""

    def __init__(self, sync: SmartSyncService, realm_id: str) -> None:
        self._sync = sync
        self._realm_id = realm_id

    async def bill(self, bill_id: str) -> BillSnapshot | None:
        value = await self._sync.get_cache(self._bill_key(bill_id))
        return None if value is None else BillSnapshot.from_cache(bill_id, value)

    async def account(self, account_id: str) -> AccountSnapshot | None:
        value = await self._sync.get_cache(self._account_key(account_id))
        return None if value is None else AccountSnapshot.from_cache(account_id, value)

    async def keep_bill(self, bill: BillSnapshot) -> None:
        await self._sync.set_cache(self._bill_key(bill.bill_id), bill.to_cache(), SNAPSHOT_TTL_SECONDS)

    async def keep_account(self, account: AccountSnapshot) -> None:
        await self._sync.set_cache(self._account_key(account.account_id), account.to_cache(), SNAPSHOT_TTL_SECONDS)

    async def forget_bill(self, bill_id: str) -> None:
        await self._sync.delete_cache(self._bill_key(bill_id))

    def _bill_key(self, bill_id: str) -> str:
        return f"ap:{self._realm_id}:bill:{bill_id}"

    def _account_key(self, account_id: str) -> str:
        return f"ap:{self._realm_id}:account:{account_id}"
