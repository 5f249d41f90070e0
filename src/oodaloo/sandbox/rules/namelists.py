"""Business rules of the name lists: Account, Vendor, Customer, Term, Item, PaymentMethod (fields, defaults,
uniqueness), and the shapes of the seeded sales-tax lists TaxCode and TaxRate."""

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
    "Inventory": "Other Current Asset",
    "PrepaidExpenses": "Other Current Asset",
    "OtherCurrentAssets": "Other Current Asset",
    "AccountsPayable": "Accounts Payable",
    "CreditCard": "Credit Card",
    "SalesTaxPayable": "Other Current Liability",
    "PayrollTaxPayable": "Other Current Liability",
    "OtherCurrentLiabilities": "Other Current Liability",
    "OpeningBalanceEquity": "Equity",
    "RetainedEarnings": "Equity",
    "OwnersEquity": "Equity",
    "PartnerContributions": "Equity",
    "PartnerDistributions": "Equity",
    "ServiceFeeIncome": "Income",
    "SalesOfProductIncome": "Income",
    "DiscountsRefundsGiven": "Income",
    "OtherPrimaryIncome": "Income",
    "InterestEarned": "Other Income",
    "OtherMiscellaneousIncome": "Other Income",
    "SuppliesMaterialsCogs": "Cost of Goods Sold",
    "CostOfLaborCos": "Cost of Goods Sold",
    "PayrollExpenses": "Expense",
    "RentOrLeaseOfBuildings": "Expense",
    "OfficeGeneralAdministrativeExpenses": "Expense",
    "OtherMiscellaneousServiceCost": "Expense",
    "AdvertisingPromotional": "Expense",
    "BankCharges": "Expense",
    "SuppliesMaterials": "Expense",
    "OtherMiscellaneousExpense": "Other Expense",
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


# QBO's PaymentMethod.Type; a method created without one is not a card.
PAYMENT_METHOD_TYPES = ("CREDIT_CARD", "NON_CREDIT_CARD")
PAYMENT_METHOD_NAME_MAX = 31
# US companies' pseudo tax codes for sales lines: every US company has them, so a line may name them even in a realm
# restored from a state file written before TaxCode was an entity.
PSEUDO_TAX_CODES = ("TAX", "NON")


def build_payment_method(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise required("Name")
    _check_name(name, "Name")
    if len(name) > PAYMENT_METHOD_NAME_MAX:
        raise business(f"Name can't be longer than {PAYMENT_METHOD_NAME_MAX} characters.", "Name")
    method_type = body.get("Type", "NON_CREDIT_CARD")
    if method_type not in PAYMENT_METHOD_TYPES:
        raise invalid_enum("Type", method_type, PAYMENT_METHOD_TYPES)
    out = writable(body)
    out.update({"Name": name, "Type": method_type, "Active": _active(body)})
    if out["Active"]:
        _check_unique(ws, ("PaymentMethod", name.lower()), "PaymentMethod", entity_id, name)
    return out


def build_tax_rate(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    """A seeded TaxRate in QBO's read shape (QBO creates rates through its TaxService, not this endpoint)."""
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise required("Name")
    out = writable(body)
    out.update(
        {
            "Name": name,
            "Description": body.get("Description", name),
            "RateValue": to_decimal(body.get("RateValue", 0), "RateValue"),
            "SpecialTaxType": body.get("SpecialTaxType", "NONE"),
            "DisplayType": body.get("DisplayType", "ReadOnly"),
            "Active": _active(body),
        }
    )
    return out


def build_tax_code(ws: WriteSet, body: Obj, prev: Obj | None, entity_id: str) -> Obj:
    """A seeded TaxCode: the pseudo codes TAX and NON, or a group of TaxRates for sales (and purchases)."""
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise required("Name")
    out = writable(body)
    out.update({"Name": name, "Description": body.get("Description", name)})
    if entity_id in PSEUDO_TAX_CODES:
        out.update({"TaxGroup": False, "Taxable": entity_id == "TAX"})
        return out
    for list_name in ("SalesTaxRateList", "PurchaseTaxRateList"):
        details = (body.get(list_name) or {}).get("TaxRateDetail", [])
        out[list_name] = {"TaxRateDetail": [_tax_rate_detail(ws, detail, list_name) for detail in details]}
    out.update({"TaxGroup": True, "Taxable": True, "Active": _active(body)})
    return out


def _tax_rate_detail(ws: WriteSet, detail: Obj, list_name: str) -> Obj:
    rate_ref, _ = resolve(ws, detail, "TaxRateRef", "TaxRate", needed=True)
    return {
        "TaxTypeApplicable": detail.get("TaxTypeApplicable", "TaxOnAmount"),
        "TaxRateRef": rate_ref,
        "TaxOrder": detail.get("TaxOrder", 0),
    }


def tax_code_ref(ws: WriteSet, detail: Obj) -> Obj:
    """A sales line's TaxCodeRef: NON when absent; TAX, NON or an existing TaxCode (2500 otherwise)."""
    code_id = ref_id(detail, "TaxCodeRef")
    if code_id is None:
        return {"value": "NON"}
    if code_id in PSEUDO_TAX_CODES:
        return {"value": code_id}
    return {"value": lookup(ws, "TaxCode", code_id, "TaxCodeRef")["Id"]}


def payment_method_ref(ws: WriteSet, body: Obj) -> Obj | None:
    """A transaction's PaymentMethodRef, resolved with its name (2500 when it names no PaymentMethod)."""
    ref, _ = resolve(ws, body, "PaymentMethodRef", "PaymentMethod")
    return ref
