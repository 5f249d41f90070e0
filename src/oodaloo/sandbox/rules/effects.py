"""What a transaction does to other objects — account balances, open balances, back-links — as reversible deltas.

Every transaction's effects are computed from its stored object alone, so an update applies ``new - old``, a delete
applies ``-old`` and a void applies ``voided - old``: restoring balances exactly is true by construction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ..faults import business, validation
from .realm import Obj, WriteSet

# Objects whose version changes when another transaction links them (QBO bumps a Bill when a payment links it).
VERSIONED_TARGETS = frozenset({"Bill", "Invoice", "Payment", "VendorCredit", "CreditMemo", "SalesReceipt"})
# Documents whose open Balance a payment line reduces; it can never go below zero.
OPEN_DOCUMENTS = ("Bill", "Invoice", "VendorCredit", "CreditMemo")

CLASSIFICATION = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Expense": "Expense",
}

# Balance-sheet accounts carry a CurrentBalance: assets grow with debits, liabilities and equity with credits.
# Income and expense accounts report 0 (their activity lives in reports), as QBO shows them.
_DEBIT_SIGN = {"Asset": 1, "Liability": -1, "Equity": -1}

Link = tuple[str, str, str, str]  # (target entity, target id, TxnId, TxnType)


@dataclass
class Effects:
    postings: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # account id -> debit
    deltas: dict[tuple[str, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    links: set[Link] = field(default_factory=set)

    def post(self, account_id: str | None, debit: Decimal) -> None:
        if account_id is not None and debit:
            self.postings[account_id] += debit

    def add(self, entity: str, entity_id: str, field_name: str, delta: Decimal) -> None:
        if delta:
            self.deltas[(entity, entity_id, field_name)] += delta


def _net_deltas(ws: WriteSet, old: Effects | None, new: Effects | None) -> dict[tuple[str, str, str], Decimal]:
    net: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for effects, sign in ((old, -1), (new, 1)):
        if effects is None:
            continue
        for key, delta in effects.deltas.items():
            net[key] += sign * delta
        for account_id, debit in effects.postings.items():
            account = ws.get("Account", account_id)
            if account is None:
                raise validation(2500, "Invalid Reference Id", f"Invalid Reference Id : Account {account_id}")
            debit_sign = _DEBIT_SIGN.get(CLASSIFICATION.get(account["AccountType"], ""), 0)
            if debit_sign:
                net[("Account", account_id, "CurrentBalance")] += sign * debit_sign * debit
    return {key: delta for key, delta in net.items() if delta}


def apply(ws: WriteSet, old: Effects | None, new: Effects | None) -> None:
    """Move everything ``old`` did to what ``new`` does; refuses (before anything is stored) if a balance breaks."""
    old_links = old.links if old else set()
    new_links = new.links if new else set()
    changes: dict[tuple[str, str], tuple[dict[str, Decimal], set[Link], set[Link]]] = {}

    def slot(entity: str, entity_id: str) -> tuple[dict[str, Decimal], set[Link], set[Link]]:
        return changes.setdefault((entity, entity_id), ({}, set(), set()))

    for (entity, entity_id, field_name), delta in _net_deltas(ws, old, new).items():
        slot(entity, entity_id)[0][field_name] = delta
    for link in old_links - new_links:
        slot(link[0], link[1])[1].add(link)
    for link in new_links - old_links:
        slot(link[0], link[1])[2].add(link)
    for (entity, entity_id), (deltas, removed, added) in changes.items():
        _update_target(ws, entity, entity_id, deltas, removed, added)


def _update_target(
    ws: WriteSet, entity: str, entity_id: str, deltas: dict[str, Decimal], removed: set[Link], added: set[Link]
) -> None:
    obj = ws.get(entity, entity_id)
    if obj is None:
        raise validation(2500, "Invalid Reference Id", f"Invalid Reference Id : {entity} {entity_id}")
    mirrored = dict(deltas)
    if entity == "Customer" and "Balance" in deltas:
        mirrored["BalanceWithJobs"] = deltas["Balance"]
    if entity == "CreditMemo" and "Balance" in deltas:
        mirrored["RemainingCredit"] = deltas["Balance"]
    if entity == "Account" and "CurrentBalance" in deltas:
        mirrored["CurrentBalanceWithSubAccounts"] = deltas["CurrentBalance"]
    if ws.realm.bulk is not None and entity not in VERSIONED_TARGETS and not (removed or added):
        summed = ws.bulk.setdefault((entity, entity_id), {})
        for field_name, delta in mirrored.items():
            summed[field_name] = summed.get(field_name, 0) + delta
        return
    updated = dict(obj)
    for field_name, delta in mirrored.items():
        updated[field_name] = updated.get(field_name, Decimal("0.00")) + delta
    if removed or added:
        gone = {(link[2], link[3]) for link in removed}
        links = [lt for lt in obj.get("LinkedTxn", []) if (lt["TxnId"], lt["TxnType"]) not in gone]
        links += [{"TxnId": link[2], "TxnType": link[3]} for link in sorted(added, key=lambda x: int(x[2]))]
        if links:
            updated["LinkedTxn"] = links
        else:
            updated.pop("LinkedTxn", None)
    if entity in OPEN_DOCUMENTS:
        _check_open_balance(entity, updated)
    updated["MetaData"] = {**obj["MetaData"], "LastUpdatedTime": ws.meta_now}
    if entity in VERSIONED_TARGETS:
        updated["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        ws.put(entity, updated, "Update")
    else:
        ws.put(entity, updated, None)


def _check_open_balance(entity: str, obj: Obj) -> None:
    balance: Decimal = obj["Balance"]
    if balance < 0:
        number = obj.get("DocNumber") or obj["Id"]
        raise business(f"The amount applied to {entity} {number} exceeds its open balance by {-balance}.", "Line")
