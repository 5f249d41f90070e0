"""The payables side of the QBO mirror: what listing and paying bills read from it (is it synced, a bill, an account,
the open bills, the accounts to pay from), and what a BillPayment QBO answered does to it, recorded from that answer
alone in the transaction that settles the payment (``mirror_payments``)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.qbo.mirror_models import MirroredAccount, MirroredBill, MirrorStatus, Raw, ref_id, ref_name
from oodaloo.domains.qbo.mirror_payments import record_payment
from oodaloo.domains.qbo.mirror_repository import MirrorRepository, SyncStateRepository

# How QBO lists a BillPayment on the bill it pays (the bill's LinkedTxn), by the payment's PayType.
LINK_TYPE_OF_PAY_TYPE = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}


class PayablesMirror:
    """One business's mirrored bills and accounts, read through the caller's session."""

    def __init__(self, session: AsyncSession, business_id: uuid.UUID) -> None:
        self._session = session
        self._business_id = business_id
        self._bills = MirrorRepository.of(session, business_id, "Bill")
        self._accounts = MirrorRepository.of(session, business_id, "Account")

    async def synced(self, realm_id: str) -> bool:
        """Whether a full sync of this realm completed: only then does a bill or account missing here mean more than
        "not mirrored yet" (a business never synced has an empty mirror, and is served from QBO instead)."""
        return await SyncStateRepository(self._session, self._business_id).synced(realm_id)

    async def bill(self, bill_id: str) -> MirroredBill | None:
        row = (await self._bills.by_qbo_ids([bill_id])).get(bill_id)
        return row if isinstance(row, MirroredBill) else None

    async def account(self, account_id: str) -> MirroredAccount | None:
        row = (await self._accounts.by_qbo_ids([account_id])).get(account_id)
        return row if isinstance(row, MirroredAccount) else None

    async def open_bills(self) -> Sequence[MirroredBill]:
        statement = self._bills.select().where(MirroredBill.status == MirrorStatus.ACTIVE, MirroredBill.balance > 0)
        return [row for row in await self._bills.all(statement) if isinstance(row, MirroredBill)]

    async def active_accounts(self, account_types: Collection[str]) -> Sequence[MirroredAccount]:
        statement = self._accounts.select().where(
            MirroredAccount.status == MirrorStatus.ACTIVE, MirroredAccount.account_type.in_(tuple(account_types))
        )
        return [row for row in await self._accounts.all(statement) if isinstance(row, MirroredAccount)]


def vendor_name(row: MirroredBill) -> str | None:
    return ref_name(row.raw, "VendorRef")


def account_name(row: MirroredAccount) -> str:
    name = row.raw.get("FullyQualifiedName") or row.name
    return str(name) if name else row.qbo_id


def account_currency(row: MirroredAccount) -> str | None:
    return ref_id(row.raw, "CurrencyRef")


# ------------------------------------------------------------------------------------ a payment's mark on the mirror
async def record_bill_payment(session: AsyncSession, business_id: uuid.UUID, payment: Raw) -> None:
    """The BillPayment QBO answered, and what QBO did with it that its answer does not carry: each bill paid loses the
    line's amount from its Balance and lists the payment in its LinkedTxn; the account paid from is credited (the
    money left it), the A/P account debited (less is owed) and the vendor's balance lowered by the total."""
    pay_from = ref_id(payment.get("CheckPayment") or {}, "BankAccountRef") or ref_id(
        payment.get("CreditCardPayment") or {}, "CCAccountRef"
    )
    await record_payment(
        session,
        business_id,
        payment,
        entity="BillPayment",
        pays="Bill",
        link_type=LINK_TYPE_OF_PAY_TYPE.get(str(payment.get("PayType")), "BillPayment"),
        debited=ref_id(payment, "APAccountRef"),
        credited=pay_from,
        party="Vendor",
        party_id=ref_id(payment, "VendorRef"),
    )
