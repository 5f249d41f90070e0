"""A bill payment checked against the synced mirror alone (the bill live and open for the amount, the account one
bills can be paid from): what scheduling a payment, a plan's payments and a scheduled payment on its day rely on, and
the effect such a payment has on cash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.actions import CREDIT_CARD
from oodaloo.domains.ap.delay import bill_name
from oodaloo.domains.ap.errors import BillNotFound
from oodaloo.domains.ap.mirror import PayablesMirror
from oodaloo.domains.ap.snapshots import AccountSnapshot, BillSnapshot
from oodaloo.domains.core.impact import CashEffect, EffectKind
from oodaloo.domains.qbo.mirror_models import MirrorStatus
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository
from oodaloo.infra.web.errors import InvalidInput

ZERO = Decimal("0.00")


class AccountMissing(InvalidInput):
    code = "account_not_usable"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"QuickBooks has no account {account_id}.", field="pay_from_account_id")


@dataclass(frozen=True)
class CheckedBillPayment:
    bill_id: str
    vendor_id: str
    name: str  # "Acme Supply, bill 1042"
    balance: Decimal  # open, less what earlier actions of a plan pay
    account_id: str
    pay_type: str  # Check or CreditCard

    @property
    def reaches_bank(self) -> bool:
        """A bill paid by card moves no bank account now: the card is paid later."""
        return self.pay_type != CREDIT_CARD


async def check_bill_payment(
    session: AsyncSession,
    business_id: uuid.UUID,
    bill_id: str,
    amount: Decimal,
    account_id: str,
    *,
    already: Decimal = ZERO,
) -> CheckedBillPayment:
    """The bill is live and open for ``amount`` beyond ``already``; the account is an active Bank or Credit Card
    account. Raises the API error naming the field otherwise."""
    await SyncStateRepository(session, business_id).require_synced()
    mirror = PayablesMirror(session, business_id)
    bill = await mirror.bill(bill_id)
    if bill is None or bill.status is not MirrorStatus.ACTIVE or bill.vendor_id is None:
        raise BillNotFound(bill_id)
    balance = (bill.balance if bill.balance is not None else ZERO) - already
    BillSnapshot(bill_id, bill.vendor_id, balance, bill.due_date, bill.doc_number).check_payable(amount)
    account = await mirror.account(account_id)
    if account is None or account.status is MirrorStatus.DELETED:
        raise AccountMissing(account_id)
    snapshot = AccountSnapshot(
        account.qbo_id,
        account.account_type,
        account.status is MirrorStatus.ACTIVE and account.active is not False,
        account.name,
    )
    return CheckedBillPayment(bill_id, bill.vendor_id, bill_name(bill), balance, account_id, snapshot.pay_type())


def pay_effect(checked: CheckedBillPayment, amount: Decimal, on: date) -> CashEffect:
    return CashEffect(
        EffectKind.PAY_BILL, checked.bill_id, amount=amount, on=on, reaches_bank=checked.reaches_bank, name=checked.name
    )


def schedule_effect(checked: CheckedBillPayment, amount: Decimal, on: date, scheduled_id: str | None) -> CashEffect:
    return CashEffect(
        EffectKind.SCHEDULE_PAYMENT,
        checked.bill_id,
        amount=amount,
        on=on,
        reaches_bank=checked.reaches_bank,
        name=checked.name,
        scheduled_id=scheduled_id,
    )
