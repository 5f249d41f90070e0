"""Business rules of the transactions: Bill, BillPayment, Invoice, Payment, Purchase, Deposit.

Each ``build_*`` turns a (lenient, already cleaned) request body into the stored output shape, validating every
reference; :func:`effects_of` says what a stored transaction does to accounts, names and linked transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..faults import business, required, validation
from .common import (
    USD,
    ZERO,
    account_ref,
    add_days,
    default_account,
    invalid,
    invalid_enum,
    lookup,
    ref_id,
    ref_to,
    resolve,
    to_bool,
    to_date,
    to_decimal,
    to_id,
    to_money,
    today,
    writable,
)
from .effects import Effects
from .namelists import payment_method_ref, tax_code_ref
from .realm import Obj, WriteSet

EXPENSE_DETAILS = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")
SALES_DETAILS = ("SalesItemLineDetail", "DescriptionOnly", "SubTotalLineDetail")
BANK = ("Bank",)
CREDIT_CARD = ("Credit Card",)
DEPOSITABLE = ("Bank", "Other Current Asset")
# What a Deposit line may bring from Undeposited Funds into the bank.
DEPOSITED_KINDS = ("Payment", "SalesReceipt")
BILL_PAYMENT_LINK = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}


def lines_of(body: Obj) -> list[Obj]:
    lines = body.get("Line")
    if lines is None:
        return []
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise invalid("Line")
    return lines


def _detail_type(line: Obj, allowed: tuple[str, ...]) -> str:
    detail_type = line.get("DetailType")
    if detail_type is None:
        detail_type = next((kind for kind in allowed if kind in line), None)
        if detail_type is None:
            raise required("DetailType", "Line.DetailType")
    if detail_type not in allowed:
        raise invalid_enum("Line.DetailType", detail_type, allowed)
    return str(detail_type)


def _base_line(line: Obj, number: int, amount: Decimal, detail_type: str, detail: Obj) -> Obj:
    out: Obj = {"Id": str(number), "LineNum": number}
    if line.get("Description"):
        out["Description"] = line["Description"]
    out.update({"Amount": amount, "DetailType": detail_type, detail_type: detail})
    return out


def _expense_line(ws: WriteSet, line: Obj, number: int) -> Obj:
    detail_type = _detail_type(line, EXPENSE_DETAILS)
    amount = to_money(line.get("Amount", 0), "Line.Amount")
    detail = dict(line.get(detail_type) or {})
    if detail_type == "AccountBasedExpenseLineDetail":
        account, _ = account_ref(ws, detail, "AccountRef", needed=True)
        detail["AccountRef"] = account
    else:
        item, _ = resolve(ws, detail, "ItemRef", "Item", needed=True)
        detail["ItemRef"] = item
        for number_field in ("Qty", "UnitPrice"):
            if number_field in detail:
                detail[number_field] = to_decimal(detail[number_field], f"Line.{number_field}")
    customer, _ = resolve(ws, detail, "CustomerRef", "Customer")
    if customer is not None:
        detail["CustomerRef"] = customer
    detail.setdefault("BillableStatus", "NotBillable")
    detail.setdefault("TaxCodeRef", {"value": "NON"})
    return _base_line(line, number, amount, detail_type, detail)


def expense_lines(ws: WriteSet, body: Obj) -> list[Obj]:
    lines = lines_of(body)
    if not lines:
        raise required("Line")
    return [_expense_line(ws, line, n) for n, line in enumerate(lines, start=1)]


def total_of(lines: list[Obj]) -> Decimal:
    return sum((line["Amount"] for line in lines if line["DetailType"] != "SubTotalLineDetail"), ZERO)


def common_fields(ws: WriteSet, body: Obj, *, read_only: frozenset[str] = frozenset()) -> Obj:
    """Writable header fields shared by transactions, with TxnDate defaulting to today (company time)."""
    out = writable(body, frozenset({"TotalAmt", "Line"}) | read_only)
    out["TxnDate"] = to_date(body["TxnDate"], "TxnDate") if body.get("TxnDate") else today(ws)
    out["CurrencyRef"] = body.get("CurrencyRef") or USD
    return out


def _due_date(ws: WriteSet, body: Obj, txn_date: str, term: Obj | None) -> str:
    if body.get("DueDate"):
        return to_date(body["DueDate"], "DueDate")
    if term is not None and term.get("Type") == "STANDARD":
        return add_days(txn_date, int(term.get("DueDays", 0)))
    return txn_date


def _carried_links(prev: Obj | None) -> list[Obj]:
    return list(prev.get("LinkedTxn", [])) if prev else []


def open_balance(total: Decimal, prev: Obj | None, entity: str) -> Decimal:
    """New Balance after a change of total: what was already paid stays paid."""
    if prev is None:
        return total
    paid: Decimal = prev["TotalAmt"] - prev["Balance"]
    if total < paid:
        raise business(f"The {entity} total can't be less than the {paid} already paid or applied.", "Line")
    return total - paid


def _check_duplicate_doc(ws: WriteSet, bill: Obj, entity_id: str, allow_duplicate: bool) -> None:
    if allow_duplicate or not bill.get("DocNumber"):
        return
    key = ("BillDoc", bill["VendorRef"]["value"], str(bill["DocNumber"]).lower())
    owner = ws.index_owner(key)
    if owner is not None and owner != ("Bill", entity_id):
        raise validation(
            6140,
            "Duplicate Document Number Error",
            f"Duplicate Document Number Error : You must specify a different number. "
            f"This number has already been used. DocNumber={bill['DocNumber']} is assigned to TxnType=Bill "
            f"with TxnId={owner[1]}",
            "DocNumber",
        )


def build_bill(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str, *, allow_duplicate: bool = False) -> Obj:
    vendor_ref, vendor = resolve(ws, body, "VendorRef", "Vendor", needed=True)
    assert vendor is not None
    lines = expense_lines(ws, body)
    out = common_fields(ws, body)
    out["VendorRef"] = vendor_ref
    ap_ref, _ = account_ref(ws, body, "APAccountRef", types=("Accounts Payable",))
    if ap_ref is None:
        ap_ref = default_ref(ws, "Accounts Payable")
    out["APAccountRef"] = ap_ref
    term_ref, term = resolve(ws, body, "SalesTermRef", "Term")
    if term_ref is not None:
        out["SalesTermRef"] = term_ref
    elif vendor.get("TermRef"):
        # QBO fills the due date from the vendor's default terms when the bill names none.
        term = ws.get("Term", vendor["TermRef"]["value"])
    out["DueDate"] = _due_date(ws, body, out["TxnDate"], term)
    total = total_of(lines)
    out.update({"Line": lines, "TotalAmt": total, "Balance": open_balance(total, prev, "bill")})
    out["LinkedTxn"] = _carried_links(prev)
    if not out["LinkedTxn"]:
        del out["LinkedTxn"]
    _check_duplicate_doc(ws, out, entity_id, allow_duplicate)
    return out


def default_ref(ws: WriteSet, account_type: str, sub_type: str | None = None) -> Obj:
    account = default_account(ws, account_type, sub_type=sub_type)
    if account is None:
        raise business(f"The company has no {sub_type or account_type} account.")
    return ref_to(account, "FullyQualifiedName")


def _sales_line(ws: WriteSet, line: Obj, number: int) -> Obj | None:
    detail_type = _detail_type(line, SALES_DETAILS)
    if detail_type == "SubTotalLineDetail":
        return None  # generated on output
    if detail_type == "DescriptionOnly":
        amount = to_money(line.get("Amount", 0), "Line.Amount")
        return _base_line(line, number, amount, "DescriptionOnly", dict(line.get("DescriptionLineDetail") or {}))
    detail = dict(line.get(detail_type) or {})
    item_ref, _ = resolve(ws, detail, "ItemRef", "Item")
    if item_ref is None:
        fallback = ws.realm.find_one("Item", lambda i: i.get("Active", True) and i["Type"] == "Service")
        if fallback is None:
            raise required("ItemRef", "Line.SalesItemLineDetail.ItemRef")
        item_ref = ref_to(fallback)
    detail["ItemRef"] = item_ref
    qty = to_decimal(detail["Qty"], "Line.Qty") if "Qty" in detail else None
    price = to_decimal(detail["UnitPrice"], "Line.UnitPrice") if "UnitPrice" in detail else None
    for name, value in (("Qty", qty), ("UnitPrice", price)):
        if value is not None:
            detail[name] = value
    if line.get("Amount") is not None:
        amount = to_money(line["Amount"], "Line.Amount")
        # Qty and UnitPrice are optional in QBO, and clients send zeros for "not given" (python-quickbooks' default
        # line does): the product is checked only when both carry a value.
        if qty and price and (qty * price).quantize(amount) != amount:
            raise validation(
                6070,
                "Amount calculation incorrect",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}",
                "Line.Amount",
            )
    elif qty is not None and price is not None:
        amount = (qty * price).quantize(Decimal("0.01"))
    else:
        raise required("Amount", "Line.Amount")
    detail["TaxCodeRef"] = tax_code_ref(ws, detail)
    return _base_line(line, number, amount, detail_type, detail)


def build_sales_lines(ws: WriteSet, body: Obj) -> tuple[list[Obj], Obj]:
    """Sales-form lines (Invoice, CreditMemo, SalesReceipt), numbered from 1, and the generated subtotal line."""
    raw_lines = lines_of(body)
    lines = [out for n, line in enumerate(raw_lines, start=1) if (out := _sales_line(ws, line, n)) is not None]
    if not lines:
        raise required("Line")
    for n, line in enumerate(lines, start=1):
        line.update({"Id": str(n), "LineNum": n})
    subtotal: Obj = {"Amount": total_of(lines), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    return lines, subtotal


def build_invoice(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    customer_ref, customer = resolve(ws, body, "CustomerRef", "Customer", needed=True)
    assert customer is not None
    lines, subtotal = build_sales_lines(ws, body)
    out = common_fields(ws, body)
    out["CustomerRef"] = customer_ref
    term_ref, term = resolve(ws, body, "SalesTermRef", "Term")
    if term_ref is None and customer.get("SalesTermRef"):
        term = ws.get("Term", customer["SalesTermRef"]["value"])
        term_ref = customer["SalesTermRef"] if term is not None else None
    if term_ref is not None:
        out["SalesTermRef"] = term_ref
    out["DueDate"] = _due_date(ws, body, out["TxnDate"], term)
    out["DocNumber"] = str(body.get("DocNumber") or (prev or {}).get("DocNumber") or next_sales_number(ws))
    email = body.get("BillEmail") or customer.get("PrimaryEmailAddr")
    if email:
        out["BillEmail"] = email
    ar_ref, _ = account_ref(ws, body, "ARAccountRef", types=("Accounts Receivable",))
    if ar_ref is not None:
        out["ARAccountRef"] = ar_ref
    out["EmailStatus"] = body.get("EmailStatus") or (prev or {}).get("EmailStatus") or "NotSet"
    if out["EmailStatus"] not in ("NotSet", "NeedToSend", "EmailSent"):
        raise invalid_enum("EmailStatus", out["EmailStatus"], ("NotSet", "NeedToSend", "EmailSent"))
    out.setdefault("PrintStatus", "NotSet")
    if prev and prev.get("DeliveryInfo"):
        out["DeliveryInfo"] = prev["DeliveryInfo"]
    total = subtotal["Amount"]
    out.update({"Line": [*lines, subtotal], "TotalAmt": total, "Balance": open_balance(total, prev, "invoice")})
    if links := _carried_links(prev):
        out["LinkedTxn"] = links
    return out


def next_sales_number(ws: WriteSet) -> str:
    # Invoices, sales receipts and credit memos share one number sequence, as sales forms do in QBO (ADR 0002).
    # The realm's counter moves at commit (see WriteSet.commit), so a refused write consumes no number.
    return str(ws.realm.invoice_number + 1)


def _linked_lines(
    ws: WriteSet, body: Obj, *, targets: tuple[str, str], party_field: str, party_id: str
) -> tuple[list[Obj], Decimal]:
    """Payment-style lines (no DetailType): each applies its Amount to one linked transaction of ``targets`` —
    a document it pays (Bill, Invoice) or a credit it uses up (VendorCredit, CreditMemo). Returns the lines and the
    net amount applied (documents paid less credits used), which the payment's total must cover."""
    out: list[Obj] = []
    net = ZERO
    document, credit = targets
    for line in lines_of(body):
        amount = to_money(line.get("Amount", 0), "Line.Amount")
        links = line.get("LinkedTxn") or []
        if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
            raise business(f"Each payment line must link exactly one {document} or {credit}.", "Line.LinkedTxn")
        link = links[0]
        target = link.get("TxnType", document)
        if target not in targets:
            raise invalid_enum("Line.LinkedTxn.TxnType", target, targets)
        txn_id = to_id(link.get("TxnId"), "Line.LinkedTxn.TxnId")
        linked = lookup(ws, target, txn_id, "Line.LinkedTxn.TxnId")
        if linked[party_field]["value"] != party_id:
            raise business(f"{target} {txn_id} belongs to another {party_field[:-3].lower()}.", "Line.LinkedTxn")
        if amount < 0:
            raise business("A payment line amount can't be negative.", "Line.Amount")
        net += amount if target == document else -amount
        out.append({"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": target}]})
    if net < 0:
        raise business(f"The credits applied exceed the {document.lower()}s paid by {-net}.", "Line")
    return out, net


def _payment_total(body: Obj, applied: Decimal) -> Decimal:
    total = to_money(body["TotalAmt"], "TotalAmt") if body.get("TotalAmt") is not None else applied
    if total < applied:
        raise business(f"The payment total {total} is less than the {applied} applied in its lines.", "TotalAmt")
    return total


def build_bill_payment(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    vendor_ref, _ = resolve(ws, body, "VendorRef", "Vendor", needed=True)
    assert vendor_ref is not None
    pay_type = body.get("PayType")
    if pay_type is None:
        raise required("PayType")
    if pay_type not in BILL_PAYMENT_LINK:
        raise invalid_enum("PayType", pay_type, tuple(BILL_PAYMENT_LINK))
    out = common_fields(ws, body)
    out.pop("CheckPayment", None)
    out.pop("CreditCardPayment", None)
    if pay_type == "Check":
        check = dict(body.get("CheckPayment") or {})
        bank, _ = account_ref(ws, check, "BankAccountRef", needed=True, types=BANK)
        out["CheckPayment"] = {**check, "BankAccountRef": bank, "PrintStatus": check.get("PrintStatus", "NotSet")}
    else:
        card = dict(body.get("CreditCardPayment") or {})
        cc, _ = account_ref(ws, card, "CCAccountRef", needed=True, types=CREDIT_CARD)
        out["CreditCardPayment"] = {**card, "CCAccountRef": cc}
    if body.get("Line") is None and prev is None:
        raise required("Line")
    lines, applied = _linked_lines(
        ws, body, targets=("Bill", "VendorCredit"), party_field="VendorRef", party_id=vendor_ref["value"]
    )
    ap_ref, _ = account_ref(ws, body, "APAccountRef", types=("Accounts Payable",))
    out.update(
        {
            "VendorRef": vendor_ref,
            "PayType": pay_type,
            "APAccountRef": ap_ref or default_ref(ws, "Accounts Payable"),
            "Line": lines,
            "TotalAmt": _payment_total(body, applied),
        }
    )
    return out


def build_payment(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    customer_ref, _ = resolve(ws, body, "CustomerRef", "Customer", needed=True)
    assert customer_ref is not None
    if body.get("TotalAmt") is None and not body.get("Line"):
        raise required("TotalAmt")
    lines, applied = _linked_lines(
        ws, body, targets=("Invoice", "CreditMemo"), party_field="CustomerRef", party_id=customer_ref["value"]
    )
    out = common_fields(ws, body)
    deposit_ref, _ = account_ref(ws, body, "DepositToAccountRef", types=DEPOSITABLE)
    ar_ref, _ = account_ref(ws, body, "ARAccountRef", types=("Accounts Receivable",))
    total = _payment_total(body, applied)
    out.update(
        {
            "CustomerRef": customer_ref,
            "DepositToAccountRef": deposit_ref or default_ref(ws, "Other Current Asset", "UndepositedFunds"),
            "ARAccountRef": ar_ref or default_ref(ws, "Accounts Receivable"),
            "Line": lines,
            "TotalAmt": total,
            "UnappliedAmt": total - applied,
            "ProcessPayment": False,
        }
    )
    if (method := payment_method_ref(ws, body)) is not None:
        out["PaymentMethodRef"] = method
    if links := _carried_links(prev):
        out["LinkedTxn"] = links
        refuse_deposited_change(prev, out)
    return out


def refuse_deposited_change(prev: Obj | None, new: Obj | None) -> None:
    """A deposited payment's or sales receipt's amount and account are fixed until its Deposit is deleted (QBO code
    6540)."""
    if prev is None or not any(lt["TxnType"] == "Deposit" for lt in prev.get("LinkedTxn", [])):
        return
    if new is not None and (
        new["TotalAmt"] == prev["TotalAmt"]
        and new["DepositToAccountRef"]["value"] == prev["DepositToAccountRef"]["value"]
    ):
        return
    raise validation(
        6540,
        "Deposited Transaction cannot be changed",
        "This transaction has been deposited. If you want to change or delete it, you must edit the deposit it "
        "appears on and remove it first.",
    )


def _party_ref(ws: WriteSet, body: Obj) -> Obj | None:
    entity_id = ref_id(body, "EntityRef")
    if entity_id is None:
        return None
    wanted = body["EntityRef"].get("type") if isinstance(body["EntityRef"], dict) else None
    for entity in (wanted,) if wanted in ("Vendor", "Customer") else ("Vendor", "Customer"):
        obj = ws.get(entity, entity_id)
        if obj is not None:
            return {"value": entity_id, "name": obj["DisplayName"], "type": entity}
    raise validation(2500, "Invalid Reference Id", f"Invalid Reference Id : Entity {entity_id}", "EntityRef")


def build_purchase(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    payment_type = body.get("PaymentType")
    if payment_type is None:
        raise required("PaymentType")
    if payment_type not in ("Cash", "Check", "CreditCard"):
        raise invalid_enum("PaymentType", payment_type, ("Cash", "Check", "CreditCard"))
    account, _ = account_ref(
        ws, body, "AccountRef", needed=True, types=CREDIT_CARD if payment_type == "CreditCard" else BANK
    )
    lines = expense_lines(ws, body)
    out = common_fields(ws, body)
    credit = to_bool(body.get("Credit", False), "Credit")
    if credit and payment_type != "CreditCard":
        raise business("Only credit card purchases can be credits.", "Credit")
    out.update({"PaymentType": payment_type, "AccountRef": account, "Line": lines, "TotalAmt": total_of(lines)})
    out["Credit"] = credit
    if party := _party_ref(ws, body):
        out["EntityRef"] = party
    return out


def _deposit_line(ws: WriteSet, line: Obj, number: int, deposit_id: str) -> Obj:
    amount = to_money(line.get("Amount", 0), "Line.Amount")
    links = line.get("LinkedTxn")
    if links:
        link = links[0] if isinstance(links, list) and isinstance(links[0], dict) else None
        kind = None if link is None else link.get("TxnType", "Payment")
        if link is None or kind not in DEPOSITED_KINDS:
            raise business("A deposit line can only link a Payment or a SalesReceipt.", "Line.LinkedTxn")
        received_id = to_id(link.get("TxnId"), "Line.LinkedTxn.TxnId")
        received = lookup(ws, kind, received_id, "Line.LinkedTxn.TxnId")
        account = ws.get("Account", received["DepositToAccountRef"]["value"])
        if account is None or account.get("AccountSubType") != "UndepositedFunds":
            raise business(f"{kind} {received_id} was not received into Undeposited Funds.", "Line.LinkedTxn")
        if any(lt["TxnType"] == "Deposit" and lt["TxnId"] != deposit_id for lt in received.get("LinkedTxn", [])):
            raise business(f"{kind} {received_id} has already been deposited.", "Line.LinkedTxn")
        if amount != received["TotalAmt"]:
            raise business(f"The deposit line must carry the full amount {received['TotalAmt']}.", "Line")
        line_link = {"TxnId": received_id, "TxnType": kind, "TxnLineId": str(link.get("TxnLineId", "0"))}
        return {"Id": str(number), "LineNum": number, "Amount": amount, "LinkedTxn": [line_link]}
    detail = dict(line.get("DepositLineDetail") or {})
    account_out, _ = account_ref(ws, detail, "AccountRef", needed=True)
    detail["AccountRef"] = account_out
    if party := _party_ref(ws, {"EntityRef": detail["Entity"]} if "Entity" in detail else {}):
        detail["Entity"] = party
    return _base_line(line, number, amount, "DepositLineDetail", detail)


def build_deposit(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    deposit_to, _ = account_ref(ws, body, "DepositToAccountRef", needed=True, types=DEPOSITABLE)
    raw = lines_of(body)
    if not raw:
        raise required("Line")
    lines = [_deposit_line(ws, line, n, entity_id) for n, line in enumerate(raw, start=1)]
    out = common_fields(ws, body)
    total = sum((line["Amount"] for line in lines), ZERO)
    cash_back = body.get("CashBack")
    if cash_back:
        back_account, _ = account_ref(ws, cash_back, "AccountRef", needed=True)
        back_amount = to_money(cash_back.get("Amount", 0), "CashBack.Amount")
        out["CashBack"] = {**cash_back, "AccountRef": back_account, "Amount": back_amount}
        total -= back_amount
    out.update({"DepositToAccountRef": deposit_to, "Line": lines, "TotalAmt": total})
    return out


Builder = Callable[[WriteSet, Obj, Obj | None, str], Obj]

BUILDERS: dict[str, Builder] = {
    "Invoice": build_invoice,
    "BillPayment": build_bill_payment,
    "Payment": build_payment,
    "Purchase": build_purchase,
    "Deposit": build_deposit,
}


def line_account(ws: WriteSet, line: Obj) -> str | None:
    detail_type = line.get("DetailType")
    if detail_type == "AccountBasedExpenseLineDetail":
        return str(line[detail_type]["AccountRef"]["value"])
    if detail_type == "ItemBasedExpenseLineDetail":
        item = ws.get("Item", line[detail_type]["ItemRef"]["value"])
        expense = (item or {}).get("ExpenseAccountRef")
        return None if expense is None else str(expense["value"])
    if detail_type == "SalesItemLineDetail":
        item = ws.get("Item", line[detail_type]["ItemRef"]["value"])
        income = (item or {}).get("IncomeAccountRef")
        return None if income is None else str(income["value"])
    if detail_type == "DepositLineDetail":
        return str(line[detail_type]["AccountRef"]["value"])
    return None


def effects_of(ws: WriteSet, entity: str, obj: Obj) -> Effects:
    """Postings (account debits), open-balance deltas and back-links of a stored transaction."""
    effects = Effects()
    handler = _EFFECTS.get(entity)
    if handler is not None:
        handler(ws, obj, effects)
    return effects


def _bill_effects(ws: WriteSet, bill: Obj, fx: Effects) -> None:
    for line in bill["Line"]:
        fx.post(line_account(ws, line), line["Amount"])
    fx.post(bill["APAccountRef"]["value"], -bill["TotalAmt"])
    fx.add("Vendor", bill["VendorRef"]["value"], "Balance", bill["TotalAmt"])


def _invoice_effects(ws: WriteSet, invoice: Obj, fx: Effects) -> None:
    for line in invoice["Line"]:
        fx.post(line_account(ws, line), -line["Amount"])
    ar = invoice.get("ARAccountRef") or default_ref(ws, "Accounts Receivable")
    fx.post(ar["value"], invoice["TotalAmt"])
    fx.add("Customer", invoice["CustomerRef"]["value"], "Balance", invoice["TotalAmt"])


def _bill_payment_effects(ws: WriteSet, payment: Obj, fx: Effects) -> None:
    total = payment["TotalAmt"]
    if payment["PayType"] == "Check":
        fx.post(payment["CheckPayment"]["BankAccountRef"]["value"], -total)
    else:
        fx.post(payment["CreditCardPayment"]["CCAccountRef"]["value"], -total)
    fx.post(payment["APAccountRef"]["value"], total)
    fx.add("Vendor", payment["VendorRef"]["value"], "Balance", -total)
    link_type = BILL_PAYMENT_LINK[payment["PayType"]]
    for line in payment["Line"]:
        link = line["LinkedTxn"][0]
        fx.add(link["TxnType"], link["TxnId"], "Balance", -line["Amount"])
        fx.links.add((link["TxnType"], link["TxnId"], payment["Id"], link_type))


def _payment_effects(ws: WriteSet, payment: Obj, fx: Effects) -> None:
    total = payment["TotalAmt"]
    fx.post(payment["DepositToAccountRef"]["value"], total)
    fx.post(payment["ARAccountRef"]["value"], -total)
    fx.add("Customer", payment["CustomerRef"]["value"], "Balance", -total)
    for line in payment["Line"]:
        link = line["LinkedTxn"][0]
        fx.add(link["TxnType"], link["TxnId"], "Balance", -line["Amount"])
        fx.links.add((link["TxnType"], link["TxnId"], payment["Id"], "Payment"))


def _purchase_effects(ws: WriteSet, purchase: Obj, fx: Effects) -> None:
    sign = -1 if purchase.get("Credit") else 1
    for line in purchase["Line"]:
        fx.post(line_account(ws, line), sign * line["Amount"])
    fx.post(purchase["AccountRef"]["value"], -sign * purchase["TotalAmt"])


def _deposit_effects(ws: WriteSet, deposit: Obj, fx: Effects) -> None:
    fx.post(deposit["DepositToAccountRef"]["value"], deposit["TotalAmt"])
    for line in deposit["Line"]:
        if "LinkedTxn" in line:
            link = line["LinkedTxn"][0]
            received = ws.get(link["TxnType"], link["TxnId"])
            if received is not None:
                fx.post(received["DepositToAccountRef"]["value"], -line["Amount"])
            fx.links.add((link["TxnType"], link["TxnId"], deposit["Id"], "Deposit"))
        else:
            fx.post(line_account(ws, line), -line["Amount"])
    if "CashBack" in deposit:
        fx.post(deposit["CashBack"]["AccountRef"]["value"], deposit["CashBack"]["Amount"])


_EFFECTS: dict[str, Callable[[WriteSet, Obj, Effects], None]] = {
    "Bill": _bill_effects,
    "Invoice": _invoice_effects,
    "BillPayment": _bill_payment_effects,
    "Payment": _payment_effects,
    "Purchase": _purchase_effects,
    "Deposit": _deposit_effects,
}


def voided(obj: Obj, entity: str, meta_now: str) -> Obj:
    """The voided form of an Invoice, SalesReceipt, Payment or BillPayment: amounts zeroed, payment lines cleared."""
    out = dict(obj)
    note = obj.get("PrivateNote")
    out["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    out["TotalAmt"] = ZERO
    if entity in ("Invoice", "SalesReceipt"):
        out["Balance"] = ZERO
        out["Line"] = [_zero_line(line) for line in obj["Line"]]
    else:
        out["Line"] = []
        if entity == "Payment":
            out["UnappliedAmt"] = ZERO
    return out


def _zero_line(line: Obj) -> Obj:
    zeroed: dict[str, Any] = {**line, "Amount": ZERO}
    detail = line.get("SalesItemLineDetail")
    if detail is not None:
        zeroed["SalesItemLineDetail"] = {**detail, "Qty": Decimal(0)}
    return zeroed


def check_deletable(entity: str, obj: Obj) -> None:
    """A transaction others point at can't vanish underneath them."""
    links = obj.get("LinkedTxn", [])
    if entity in DEPOSITED_KINDS:
        refuse_deposited_change(obj, None)
    elif entity in ("Bill", "Invoice", "VendorCredit", "CreditMemo") and links:
        kinds = ", ".join(sorted({f"{lt['TxnType']} {lt['TxnId']}" for lt in links}))
        raise business(
            f"This {entity.lower()} is applied in payments ({kinds}); delete or unlink them first.", "LinkedTxn"
        )
