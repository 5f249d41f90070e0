"""Business rules of credits, cash sales and adjustments: VendorCredit, CreditMemo, SalesReceipt, Transfer and
JournalEntry — their stored shapes and what each does to accounts and names (ADR 0002, "Credits and adjustments").

Credits are applied elsewhere: a CreditMemo through a Payment's lines, a VendorCredit through a BillPayment's
(see ``transactions``); here a credit's open ``Balance`` (and a CreditMemo's ``RemainingCredit``) starts at its total.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ..faults import business, required
from .common import ZERO, account_ref, invalid_enum, ref_id, resolve, to_money
from .effects import CLASSIFICATION, Effects
from .namelists import payment_method_ref
from .realm import Obj, WriteSet
from .transactions import (
    build_sales_lines,
    common_fields,
    default_ref,
    expense_lines,
    line_account,
    lines_of,
    next_sales_number,
    open_balance,
    refuse_deposited_change,
    total_of,
)

POSTING_TYPES = ("Debit", "Credit")
JOURNAL_DETAILS = ("JournalEntryLineDetail", "DescriptionOnly")
JOURNAL_ENTITY_TYPES = ("Customer", "Vendor", "Employee")
# A/R and A/P move only through the documents that name a customer or vendor (QBO refuses them in a Transfer).
TRANSFER_REFUSED_TYPES = ("Accounts Receivable", "Accounts Payable")
DEPOSITABLE = ("Bank", "Other Current Asset")


def build_vendor_credit(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    vendor_ref, _ = resolve(ws, body, "VendorRef", "Vendor", needed=True)
    lines = expense_lines(ws, body)
    out = common_fields(ws, body)
    ap_ref, _ = account_ref(ws, body, "APAccountRef", types=("Accounts Payable",))
    total = total_of(lines)
    out.update(
        {
            "VendorRef": vendor_ref,
            "APAccountRef": ap_ref or default_ref(ws, "Accounts Payable"),
            "Line": lines,
            "TotalAmt": total,
            "Balance": open_balance(total, prev, "vendor credit"),
        }
    )
    return _with_links(out, prev)


def build_credit_memo(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    customer_ref, customer = resolve(ws, body, "CustomerRef", "Customer", needed=True)
    assert customer is not None
    lines, subtotal = build_sales_lines(ws, body)
    out = common_fields(ws, body)
    out["CustomerRef"] = customer_ref
    out["DocNumber"] = str(body.get("DocNumber") or (prev or {}).get("DocNumber") or next_sales_number(ws))
    if email := body.get("BillEmail") or customer.get("PrimaryEmailAddr"):
        out["BillEmail"] = email
    ar_ref, _ = account_ref(ws, body, "ARAccountRef", types=("Accounts Receivable",))
    if ar_ref is not None:
        out["ARAccountRef"] = ar_ref
    out.setdefault("PrintStatus", "NotSet")
    out.setdefault("EmailStatus", "NotSet")
    remaining = open_balance(subtotal["Amount"], prev, "credit memo")
    out.update({"Line": [*lines, subtotal], "TotalAmt": subtotal["Amount"], "Balance": remaining})
    out["RemainingCredit"] = remaining
    return _with_links(out, prev)


def build_sales_receipt(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    customer_ref, _ = resolve(ws, body, "CustomerRef", "Customer")
    lines, subtotal = build_sales_lines(ws, body)
    out = common_fields(ws, body)
    if customer_ref is not None:
        out["CustomerRef"] = customer_ref
    out["DocNumber"] = str(body.get("DocNumber") or (prev or {}).get("DocNumber") or next_sales_number(ws))
    deposit_ref, _ = account_ref(ws, body, "DepositToAccountRef", types=DEPOSITABLE)
    out["DepositToAccountRef"] = deposit_ref or default_ref(ws, "Other Current Asset", "UndepositedFunds")
    if (method := payment_method_ref(ws, body)) is not None:
        out["PaymentMethodRef"] = method
    out.setdefault("PrintStatus", "NotSet")
    out.setdefault("EmailStatus", "NotSet")
    # Paid in full when made: a sales receipt never has an open balance.
    out.update({"Line": [*lines, subtotal], "TotalAmt": subtotal["Amount"], "Balance": ZERO})
    out = _with_links(out, prev)
    refuse_deposited_change(prev, out)
    return out


def build_transfer(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    from_ref, from_account = account_ref(ws, body, "FromAccountRef", needed=True)
    to_ref, to_account = account_ref(ws, body, "ToAccountRef", needed=True)
    assert from_account is not None
    assert to_account is not None
    if body.get("Amount") is None:
        raise required("Amount")
    amount = to_money(body["Amount"], "Amount")
    if amount <= 0:
        raise business("A transfer amount must be greater than zero.", "Amount")
    if from_account["Id"] == to_account["Id"]:
        raise business("You can't transfer money to the account it comes from.", "ToAccountRef")
    for name, account in (("FromAccountRef", from_account), ("ToAccountRef", to_account)):
        kind = account["AccountType"]
        if CLASSIFICATION.get(kind) not in ("Asset", "Liability", "Equity") or kind in TRANSFER_REFUSED_TYPES:
            raise business(f"{account['Name']} ({kind}) can't be used in a transfer.", name)
    out = common_fields(ws, body, read_only=frozenset({"Amount"}))
    out.update({"FromAccountRef": from_ref, "ToAccountRef": to_ref, "Amount": amount})
    return out


def build_journal_entry(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    raw = lines_of(body)
    if not raw:
        raise required("Line")
    lines = [_journal_line(ws, line, n) for n, line in enumerate(raw, start=1)]
    debits = _posted(lines, "Debit")
    credits = _posted(lines, "Credit")
    if debits != credits:
        raise business(
            f"Transaction is not balanced: debits total {debits} and credits total {credits}; they must be equal.",
            "Line",
        )
    out = common_fields(ws, body)
    out["Adjustment"] = bool(body.get("Adjustment", False))
    out.update({"Line": lines, "TotalAmt": debits})
    return out


def _posted(lines: list[Obj], posting: str) -> Decimal:
    return sum(
        (
            line["Amount"]
            for line in lines
            if line["DetailType"] == "JournalEntryLineDetail"
            and line["JournalEntryLineDetail"]["PostingType"] == posting
        ),
        ZERO,
    )


def _journal_line(ws: WriteSet, line: Obj, number: int) -> Obj:
    detail_type = str(line.get("DetailType") or "JournalEntryLineDetail")
    if detail_type not in JOURNAL_DETAILS:
        raise invalid_enum("Line.DetailType", detail_type, JOURNAL_DETAILS)
    amount = to_money(line.get("Amount", 0), "Line.Amount")
    if amount < 0:
        raise business("A journal entry line amount can't be negative: post it to the other side.", "Line.Amount")
    out: Obj = {"Id": str(number), "LineNum": number}
    if line.get("Description"):
        out["Description"] = line["Description"]
    if detail_type == "DescriptionOnly":
        return {**out, "Amount": amount, "DetailType": detail_type, "DescriptionLineDetail": {}}
    detail = dict(line.get(detail_type) or {})
    posting = detail.get("PostingType")
    if posting is None:
        raise required("PostingType", "Line.JournalEntryLineDetail.PostingType")
    if posting not in POSTING_TYPES:
        raise invalid_enum("Line.JournalEntryLineDetail.PostingType", posting, POSTING_TYPES)
    account, found = account_ref(ws, detail, "AccountRef", needed=True)
    assert found is not None
    detail["AccountRef"] = account
    party = _journal_party(ws, detail)
    if party is not None:
        detail["Entity"] = party
    else:
        detail.pop("Entity", None)
    needs = {"Accounts Receivable": "Customer", "Accounts Payable": "Vendor"}.get(found["AccountType"])
    if needs is not None and (party is None or party["Type"] != needs):
        raise business(
            f"When you use {found['Name']}, you must choose a {needs.lower()} in the Name field.",
            "Line.JournalEntryLineDetail.Entity",
        )
    return {**out, "Amount": amount, "DetailType": detail_type, detail_type: detail}


def _journal_party(ws: WriteSet, detail: Obj) -> Obj | None:
    entity = detail.get("Entity")
    if not isinstance(entity, dict) or ref_id(entity, "EntityRef") is None:
        return None
    ref = entity.get("EntityRef")
    kind = entity.get("Type") or (ref.get("type") if isinstance(ref, dict) else None)
    if kind not in JOURNAL_ENTITY_TYPES:
        raise invalid_enum("Line.JournalEntryLineDetail.Entity.Type", kind, JOURNAL_ENTITY_TYPES)
    if kind == "Employee":
        raise business("The sandbox company has no employees.", "Line.JournalEntryLineDetail.Entity")
    ref, _ = resolve(ws, entity, "EntityRef", kind, needed=True)
    return {"Type": kind, "EntityRef": ref}


def _with_links(out: Obj, prev: Obj | None) -> Obj:
    if prev and prev.get("LinkedTxn"):
        out["LinkedTxn"] = list(prev["LinkedTxn"])
    return out


Builder = Callable[[WriteSet, Obj, Obj | None, str], Obj]

BUILDERS: dict[str, Builder] = {
    "VendorCredit": build_vendor_credit,
    "CreditMemo": build_credit_memo,
    "SalesReceipt": build_sales_receipt,
    "Transfer": build_transfer,
    "JournalEntry": build_journal_entry,
}

# -- effects -------------------------------------------------------------------------------------------------------


def _vendor_credit_effects(ws: WriteSet, credit: Obj, fx: Effects) -> None:
    for line in credit["Line"]:
        fx.post(line_account(ws, line), -line["Amount"])
    fx.post(credit["APAccountRef"]["value"], credit["TotalAmt"])
    fx.add("Vendor", credit["VendorRef"]["value"], "Balance", -credit["TotalAmt"])


def _credit_memo_effects(ws: WriteSet, memo: Obj, fx: Effects) -> None:
    for line in memo["Line"]:
        fx.post(line_account(ws, line), line["Amount"])
    ar = memo.get("ARAccountRef") or default_ref(ws, "Accounts Receivable")
    fx.post(ar["value"], -memo["TotalAmt"])
    fx.add("Customer", memo["CustomerRef"]["value"], "Balance", -memo["TotalAmt"])


def _sales_receipt_effects(ws: WriteSet, receipt: Obj, fx: Effects) -> None:
    for line in receipt["Line"]:
        fx.post(line_account(ws, line), -line["Amount"])
    fx.post(receipt["DepositToAccountRef"]["value"], receipt["TotalAmt"])


def _transfer_effects(ws: WriteSet, transfer: Obj, fx: Effects) -> None:
    fx.post(transfer["FromAccountRef"]["value"], -transfer["Amount"])
    fx.post(transfer["ToAccountRef"]["value"], transfer["Amount"])


def _journal_entry_effects(ws: WriteSet, entry: Obj, fx: Effects) -> None:
    for line in entry["Line"]:
        detail = line.get("JournalEntryLineDetail")
        if detail is None:
            continue
        debit = line["Amount"] if detail["PostingType"] == "Debit" else -line["Amount"]
        fx.post(detail["AccountRef"]["value"], debit)
        party = detail.get("Entity")
        account = ws.get("Account", detail["AccountRef"]["value"])
        if party is None or account is None:
            continue
        # A name's balance follows the receivable (debit) or payable (credit) line that names it.
        if account["AccountType"] == "Accounts Receivable" and party["Type"] == "Customer":
            fx.add("Customer", party["EntityRef"]["value"], "Balance", debit)
        elif account["AccountType"] == "Accounts Payable" and party["Type"] == "Vendor":
            fx.add("Vendor", party["EntityRef"]["value"], "Balance", -debit)


EFFECTS: dict[str, Callable[[WriteSet, Obj, Effects], None]] = {
    "VendorCredit": _vendor_credit_effects,
    "CreditMemo": _credit_memo_effects,
    "SalesReceipt": _sales_receipt_effects,
    "Transfer": _transfer_effects,
    "JournalEntry": _journal_entry_effects,
}
