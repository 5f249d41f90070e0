"""Business rules of the name lists: Account, Vendor, Customer, Term, Item (fields, defaults, uniqueness)."""

from __future__ import annotations

from decimal import Decimal

from ..faults import QBOFault, business, required, validation
from .common import (
    USD,
    ZERO,
    account_ref,
    invalid,
    invalid_enum,
    lookup,
    ref_id,
    resolve,
    to_bool,
    to_decimal,
    writable,
)
from .effects import CLASSIFICATION
from .realm import Obj, WriteSet

# The usual sub-type of each account type, and the type of each common sub-type.
DEFAULT_SUBTYPE = {
    "Bank": "Checking",
    "Accounts Receivable": "AccountsReceivable",
    "Other Current Asset": "OtherCurrentAssets",
    "Fixed Asset": "MachineryAndEquipment",
    "Other Asset": "OtherLongTermAssets",
    "Accounts Payable": "AccountsPayable",
    "Credit Card": "CreditCard",
    "Other Current Liability": "OtherCurrentLiabilities",
    "Long Term Liability": "OtherLongTermLiabilities",
    "Equity": "OpeningBalanceEquity",
    "Income": "ServiceFeeIncome",
    "Other Income": "OtherMiscellaneousIncome",
    "Cost of Goods Sold": "SuppliesMaterialsCogs",
    "Expense": "OtherMiscellaneousServiceCost",
    "Other Expense": "OtherMiscellaneousExpense",
}
SUBTYPE_TYPE = {
    "Checking": "Bank",
    "Savings": "Bank",
    "MoneyMarket": "Bank",
    "CashOnHand": "Bank",
    "AccountsReceivable": "Accounts Receivable",
    "UndepositedFunds": "Other Current Asset",
    "OtherCurrentAssets": "Other Current Asset",
    "AccountsPayable": "Accounts Payable",
    "CreditCard": "Credit Card",
    "OpeningBalanceEquity": "Equity",
    "RetainedEarnings": "Equity",
    "OwnersEquity": "Equity",
    "ServiceFeeIncome": "Income",
    "SalesOfProductIncome": "Income",
    "PayrollExpenses": "Expense",
    "RentOrLeaseOfBuildings": "Expense",
    "OfficeGeneralAdministrativeExpenses": "Expense",
    "OtherMiscellaneousServiceCost": "Expense",
}
ITEM_TYPES = ("Service", "NonInventory", "Inventory", "Category", "Group")
NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")


def _duplicate_name(name: str) -> QBOFault:
    return validation(
        6240,
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another customer, vendor or other name is already using {name!r}.",
        "Name",
    )


def _check_unique(ws: WriteSet, key: tuple[str, ...], entity: str, entity_id: str, name: str) -> None:
    owner = ws.index_owner(key)
    if owner is not None and owner != (entity, entity_id):
        raise _duplicate_name(name)


def _check_name(name: str, element: str) -> None:
    if ":" in name or '"' in name:
        raise business(f"{element} can't contain a colon (:) or a double quote (\").", element)
    if len(name) > 100:
        raise business(f"{element} can't be longer than 100 characters.", element)


def _active(body: Obj) -> bool:
    return to_bool(body.get("Active", True), "Active")


def build_account(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise required("Name")
    _check_name(name, "Name")
    account_type, sub_type = body.get("AccountType"), body.get("AccountSubType")
    if account_type is None and sub_type is None:
        raise validation(6010, "Invalid account type", "You must select an account type or detail type.", "AccountType")
    if account_type is None:
        account_type = SUBTYPE_TYPE.get(str(sub_type))
        if account_type is None:
            raise invalid_enum("AccountSubType", sub_type, tuple(SUBTYPE_TYPE))
    if account_type not in CLASSIFICATION:
        raise invalid_enum("AccountType", account_type, tuple(CLASSIFICATION))
    qualified = name
    out: Obj = writable(body)
    parent_id = ref_id(body, "ParentRef")
    if parent_id is not None:
        parent = lookup(ws, "Account", parent_id, "ParentRef")
        qualified = f"{parent['FullyQualifiedName']}:{name}"
        out["ParentRef"] = {"value": parent_id}
    out.update(
        {
            "Name": name,
            "SubAccount": parent_id is not None,
            "FullyQualifiedName": qualified,
            "Active": _active(body),
            "Classification": CLASSIFICATION[account_type],
            "AccountType": account_type,
            "AccountSubType": sub_type or DEFAULT_SUBTYPE[account_type],
            "CurrentBalance": prev["CurrentBalance"] if prev else ZERO,
            "CurrentBalanceWithSubAccounts": prev["CurrentBalance"] if prev else ZERO,
            "CurrencyRef": body.get("CurrencyRef") or USD,
        }
    )
    if out["Active"]:
        _check_unique(ws, ("Account", qualified.lower()), "Account", entity_id, qualified)
    return out


def _display_name(body: Obj) -> str:
    display = body.get("DisplayName")
    if isinstance(display, str) and display.strip():
        return display.strip()
    parts = [str(body[p]) for p in NAME_PARTS if body.get(p)]
    if parts:
        return " ".join(parts)
    company = body.get("CompanyName")
    if isinstance(company, str) and company.strip():
        return company.strip()
    raise validation(
        6080, "No Name Provided", "You must provide a display name or at least one of the name fields.", "DisplayName"
    )


def _party(ws: WriteSet, entity: str, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    display = _display_name(body)
    _check_name(display, "DisplayName")
    out = writable(body)
    out.update(
        {
            "DisplayName": display,
            "PrintOnCheckName": body.get("PrintOnCheckName") or display,
            "Active": _active(body),
            "Balance": prev["Balance"] if prev else ZERO,
            "CurrencyRef": body.get("CurrencyRef") or USD,
        }
    )
    email = body.get("PrimaryEmailAddr")
    if email is not None and not (isinstance(email, dict) and isinstance(email.get("Address", ""), str)):
        raise invalid("PrimaryEmailAddr")
    if out["Active"]:
        _check_unique(ws, ("Party", display.lower()), entity, entity_id, display)
    return out


def build_vendor(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    out = _party(ws, "Vendor", body, prev, entity_id)
    term, _ = resolve(ws, body, "TermRef", "Term")
    if term is not None:
        out["TermRef"] = term
    ap, _ = account_ref(ws, body, "APAccountRef", types=("Accounts Payable",))
    if ap is not None:
        out["APAccountRef"] = ap
    out["Vendor1099"] = to_bool(body.get("Vendor1099", False), "Vendor1099")
    return out


def build_customer(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    out = _party(ws, "Customer", body, prev, entity_id)
    term, _ = resolve(ws, body, "SalesTermRef", "Term")
    if term is not None:
        out["SalesTermRef"] = term
    out.update(
        {
            "FullyQualifiedName": out["DisplayName"],
            "BalanceWithJobs": out["Balance"],
            "Job": to_bool(body.get("Job", False), "Job"),
            "BillWithParent": to_bool(body.get("BillWithParent", False), "BillWithParent"),
            "Taxable": to_bool(body.get("Taxable", False), "Taxable"),
        }
    )
    return out


def _int_field(body: Obj, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    number = to_decimal(value, name)
    if number != number.to_integral_value() or number < 0:
        raise invalid(name)
    return int(number)


def build_term(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise required("Name")
    _check_name(name, "Name")
    out = writable(body, frozenset({"Type"}))
    out.update({"Name": name, "Active": _active(body)})
    day_of_month = _int_field(body, "DayOfMonthDue")
    if day_of_month is not None:
        out.update({"Type": "DATE_DRIVEN", "DayOfMonthDue": day_of_month})
        for extra in ("DueNextMonthDays", "DiscountDayOfMonth"):
            if (value := _int_field(body, extra)) is not None:
                out[extra] = value
    else:
        out.update({"Type": "STANDARD", "DueDays": _int_field(body, "DueDays") or 0})
        if (days := _int_field(body, "DiscountDays")) is not None:
            out["DiscountDays"] = days
    if body.get("DiscountPercent") is not None:
        out["DiscountPercent"] = to_decimal(body["DiscountPercent"], "DiscountPercent")
    if out["Active"]:
        _check_unique(ws, ("Term", name.lower()), "Term", entity_id, name)
    return out


def build_item(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise required("Name")
    _check_name(name, "Name")
    item_type = body.get("Type")
    if item_type is None:
        raise required("Type")
    if item_type not in ITEM_TYPES:
        raise invalid_enum("Type", item_type, ITEM_TYPES)
    out = writable(body)
    income, _ = account_ref(ws, body, "IncomeAccountRef", needed=item_type in ("Service", "NonInventory"))
    expense, _ = account_ref(ws, body, "ExpenseAccountRef")
    for field_name, ref in (("IncomeAccountRef", income), ("ExpenseAccountRef", expense)):
        if ref is not None:
            out[field_name] = ref
    out.update(
        {
            "Name": name,
            "FullyQualifiedName": name,
            "Type": item_type,
            "Active": _active(body),
            "Taxable": to_bool(body.get("Taxable", False), "Taxable"),
            "TrackQtyOnHand": to_bool(body.get("TrackQtyOnHand", False), "TrackQtyOnHand"),
        }
    )
    for price in ("UnitPrice", "PurchaseCost"):
        out[price] = to_decimal(body.get(price, Decimal(0)), price)
    if out["Active"]:
        _check_unique(ws, ("Item", name.lower()), "Item", entity_id, name)
    return out
