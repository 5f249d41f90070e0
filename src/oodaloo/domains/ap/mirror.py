"""The payables side of the QBO mirror: what listing and paying bills read from it (is it synced, a bill, an account,
the open bills, the accounts to pay from), and what a BillPayment QBO answered does to it, recorded from that answer
alone in the transaction that settles the payment."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.qbo.mirror_models import MirroredAccount, MirroredBill, MirrorStatus, Raw, money, ref_id
from oodaloo.domains.qbo.mirror_repository import MirrorRepository, SyncStateRepository
from oodaloo.domains.qbo.schemas import QBOEntity, encode_json

# How QBO lists a BillPayment on the bill it pays (the bill's LinkedTxn), by the payment's PayType.
LINK_TYPE_OF_PAY_TYPE = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}
# Which way a credit moves an account's CurrentBalance: assets shrink, liabilities grow (QBO's sign convention).
CREDIT_SIGN_OF_CLASSIFICATION = {"Asset": Decimal(-1), "Liability": Decimal(1), "Equity": Decimal(1)}
CLASSIFICATION_OF_PAY_FROM = {"Bank": "Asset", "Credit Card": "Liability", "Accounts Payable": "Liability"}
ZERO = Decimal("0.00")


def raw_of(entity: QBOEntity) -> Raw:
    """The object as QBO sent it: parsing keeps every field it sent, so dumping those (and no defaults) gives QBO's
    JSON again (amounts as exact Decimals, dates and times in QBO's ISO form)."""
    sent = entity.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)
    loaded: Raw = json.loads(encode_json(sent), parse_float=Decimal)
    return loaded


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
        state = await SyncStateRepository(self._session, self._business_id).current()
        return state is not None and state.realm_id == realm_id and state.cdc_cursor is not None

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
    ref = row.raw.get("VendorRef")
    name = ref.get("name") if isinstance(ref, dict) else None
    return str(name) if name else None


def account_name(row: MirroredAccount) -> str:
    name = row.raw.get("FullyQualifiedName") or row.name
    return str(name) if name else row.qbo_id


def account_currency(row: MirroredAccount) -> str | None:
    return ref_id(row.raw, "CurrencyRef")


# ------------------------------------------------------------------------------------ a payment's mark on the mirror
async def record_bill_payment(session: AsyncSession, business_id: uuid.UUID, payment: Raw) -> None:
    """The BillPayment QBO answered, and what QBO did with it that its answer does not carry, done the way QBO does
    it: each bill paid loses the line's amount from its Balance and lists the payment in its LinkedTxn; the account
    paid from, the A/P account and the vendor's balance move by the total. Those rows keep their version (QBO's next
    copy, with its new SyncToken or LastUpdatedTime, replaces them at the next sync), and nothing is changed twice: a
    payment the mirror already had came with its effects from a sync."""
    payments = MirrorRepository.of(session, business_id, "BillPayment")
    payment_id = str(payment["Id"])
    already_mirrored = payment_id in await payments.by_qbo_ids([payment_id])
    await payments.store([payment])
    if already_mirrored:
        return
    total = money(payment, "TotalAmt") or ZERO
    link = {"TxnId": payment_id, "TxnType": LINK_TYPE_OF_PAY_TYPE.get(str(payment.get("PayType")), "BillPayment")}
    bills = MirrorRepository.of(session, business_id, "Bill")
    for bill_id, amount in _amounts_by_bill(payment).items():
        await bills.revise(bill_id, _paid(amount, link))
    accounts = MirrorRepository.of(session, business_id, "Account")
    pay_from = ref_id(payment.get("CheckPayment") or {}, "BankAccountRef") or ref_id(
        payment.get("CreditCardPayment") or {}, "CCAccountRef"
    )
    if pay_from is not None:
        await accounts.revise(pay_from, _posted(-total))  # credited: the money left it
    ap_account = ref_id(payment, "APAccountRef")
    if ap_account is not None:
        await accounts.revise(ap_account, _posted(total))  # debited: less is owed
    vendor_id = ref_id(payment, "VendorRef")
    if vendor_id is not None:
        await MirrorRepository.of(session, business_id, "Vendor").revise(vendor_id, _moved("Balance", -total))


def _amounts_by_bill(payment: Raw) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for line in payment.get("Line") or []:
        if not isinstance(line, dict):
            continue
        amount = money(line, "Amount") or ZERO
        for linked in line.get("LinkedTxn") or []:
            if isinstance(linked, dict) and linked.get("TxnType") == "Bill" and linked.get("TxnId") is not None:
                bill_id = str(linked["TxnId"])
                amounts[bill_id] = amounts.get(bill_id, ZERO) + amount
    return amounts


def _paid(amount: Decimal, link: dict[str, str]) -> Callable[[Raw], Raw | None]:
    def change(bill: Raw) -> Raw | None:
        links: list[Any] = list(bill.get("LinkedTxn") or [])
        if any(isinstance(known, dict) and known.get("TxnId") == link["TxnId"] for known in links):
            return None  # the bill already shows this payment (a sync brought it)
        balance = money(bill, "Balance") or ZERO
        return {**bill, "Balance": balance - amount, "LinkedTxn": [*links, link]}

    return change


def _posted(debit: Decimal) -> Callable[[Raw], Raw | None]:
    """A debit (negative: a credit) to an account: its CurrentBalance moves by the classification's sign."""

    def change(account: Raw) -> Raw | None:
        classification = account.get("Classification") or CLASSIFICATION_OF_PAY_FROM.get(
            str(account.get("AccountType"))
        )
        sign = CREDIT_SIGN_OF_CLASSIFICATION.get(str(classification))
        if sign is None:
            return None  # income and expense accounts carry no balance of their own in QBO
        delta = -sign * debit
        changed = _moved("CurrentBalance", delta)(account)
        return None if changed is None else _moved("CurrentBalanceWithSubAccounts", delta)(changed) or changed

    return change


def _moved(name: str, delta: Decimal) -> Callable[[Raw], Raw | None]:
    def change(obj: Raw) -> Raw | None:
        if name not in obj or not delta:
            return None
        return {**obj, name: (money(obj, name) or ZERO) + delta}

    return change
