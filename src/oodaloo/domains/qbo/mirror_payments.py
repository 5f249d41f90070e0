"""What a payment QBO answered does to the mirror besides adding itself, recorded from that answer alone in the
transaction that settles the action (a bill payment, a customer payment), done the way QBO does it: each document paid
(a bill, an invoice) loses the line's amount from its Balance and lists the payment in its LinkedTxn; one account is
debited and another credited by the total; the party's (vendor's, customer's) balance goes down by it.

Those rows keep their version (QBO's next copy, with its new SyncToken or LastUpdatedTime, replaces them at the next
sync), and nothing is changed twice: a payment the mirror already had came with its effects from a sync."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.qbo.mirror_models import Raw, money
from oodaloo.domains.qbo.mirror_repository import MirrorRepository

# Which way a debit moves an account's CurrentBalance (QBO's sign convention: assets grow, liabilities and equity
# shrink); income and expense accounts carry no balance of their own in QBO.
DEBIT_SIGN_OF_CLASSIFICATION = {"Asset": Decimal(1), "Liability": Decimal(-1), "Equity": Decimal(-1)}
# The classification of the accounts a payment moves, for a copy that lacks its Classification.
CLASSIFICATION_OF_TYPE = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",  # Undeposited Funds
    "Accounts Receivable": "Asset",
    "Credit Card": "Liability",
    "Accounts Payable": "Liability",
}
ZERO = Decimal("0.00")


async def record_payment(
    session: AsyncSession,
    business_id: uuid.UUID,
    payment: Raw,
    *,
    entity: str,
    pays: str,
    link_type: str,
    debited: str | None,
    credited: str | None,
    party: str,
    party_id: str | None,
) -> None:
    """Store ``payment`` (a QBO ``entity``) and, unless the mirror had it already, apply it to the ``pays`` documents
    its lines link to (listed there as ``link_type``), debit ``debited`` and credit ``credited`` by its total, and
    lower the balance of the ``party`` (an entity name) ``party_id``."""
    payments = MirrorRepository.of(session, business_id, entity)
    payment_id = str(payment["Id"])
    already_mirrored = payment_id in await payments.by_qbo_ids([payment_id])
    await payments.store([payment])
    if already_mirrored:
        return
    total = money(payment, "TotalAmt") or ZERO
    link = {"TxnId": payment_id, "TxnType": link_type}
    documents = MirrorRepository.of(session, business_id, pays)
    for document_id, amount in amounts_by_document(payment, pays).items():
        await documents.revise(document_id, _settled(amount, link))
    accounts = MirrorRepository.of(session, business_id, "Account")
    if debited is not None:
        await accounts.revise(debited, _posted(total))
    if credited is not None:
        await accounts.revise(credited, _posted(-total))
    if party_id is not None:
        await MirrorRepository.of(session, business_id, party).revise(party_id, _moved("Balance", -total))


def amounts_by_document(payment: Raw, document: str) -> dict[str, Decimal]:
    """What the payment's lines apply to each linked ``document`` (a TxnType: "Bill", "Invoice"), by its id."""
    amounts: dict[str, Decimal] = {}
    for line in payment.get("Line") or []:
        if not isinstance(line, dict):
            continue
        amount = money(line, "Amount") or ZERO
        for linked in line.get("LinkedTxn") or []:
            if isinstance(linked, dict) and linked.get("TxnType") == document and linked.get("TxnId") is not None:
                document_id = str(linked["TxnId"])
                amounts[document_id] = amounts.get(document_id, ZERO) + amount
    return amounts


def _settled(amount: Decimal, link: dict[str, str]) -> Callable[[Raw], Raw | None]:
    def change(document: Raw) -> Raw | None:
        links: list[Any] = list(document.get("LinkedTxn") or [])
        if any(isinstance(known, dict) and known.get("TxnId") == link["TxnId"] for known in links):
            return None  # the document already shows this payment (a sync brought it)
        balance = money(document, "Balance") or ZERO
        return {**document, "Balance": balance - amount, "LinkedTxn": [*links, link]}

    return change


def _posted(debit: Decimal) -> Callable[[Raw], Raw | None]:
    """A debit (negative: a credit) to an account: its CurrentBalance moves by the classification's sign."""

    def change(account: Raw) -> Raw | None:
        classification = account.get("Classification") or CLASSIFICATION_OF_TYPE.get(str(account.get("AccountType")))
        sign = DEBIT_SIGN_OF_CLASSIFICATION.get(str(classification))
        if sign is None:
            return None
        delta = sign * debit
        changed = _moved("CurrentBalance", delta)(account)
        return None if changed is None else _moved("CurrentBalanceWithSubAccounts", delta)(changed) or changed

    return change


def _moved(name: str, delta: Decimal) -> Callable[[Raw], Raw | None]:
    def change(obj: Raw) -> Raw | None:
        if name not in obj or not delta:
            return None
        return {**obj, name: (money(obj, name) or ZERO) + delta}

    return change
