"""Lenient reading of QBO request bodies (empty strings, read-only fields, loose scalar types) and reference lookup."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..faults import QBOFault, not_found, required, validation
from .realm import Obj, WriteSet

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
USD = {"value": "USD", "name": "United States Dollar"}

# Fields the server computes or owns; clients echo them back on get-modify-save and must not be refused.
READ_ONLY_FIELDS = frozenset(
    {
        "Id",
        "SyncToken",
        "MetaData",
        "domain",
        "sparse",
        "status",
        "time",
        "Balance",
        "HomeBalance",
        "HomeTotalAmt",
        "FullyQualifiedName",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
        "BalanceWithJobs",
        "UnappliedAmt",
        "LinkedTxn",
        "DeliveryInfo",
        "Classification",
        "InvoiceLink",
    }
)


def clean(value: Any) -> Any:
    """Drop nulls and empty strings everywhere (clients send them for "unset"); keep empty lists and objects."""
    if isinstance(value, dict):
        return _clean_dict(value)
    if isinstance(value, list):
        return _clean_list(value)
    return value


def _clean_dict(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        kind = type(value)
        if value is None or (kind is str and not value):
            continue
        if kind is dict:
            value = _clean_dict(value)
        elif kind is list:
            value = _clean_list(value)
        out[key] = value
    return out


def _clean_list(items: list[Any]) -> list[Any]:
    return [clean(v) for v in items if v is not None]


def writable(body: Obj, extra_read_only: frozenset[str] = frozenset()) -> Obj:
    """The body without read-only fields."""
    return {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS and k not in extra_read_only}


def invalid(element: str, detail: str = "") -> QBOFault:
    return validation(
        2010,
        "Request has invalid or unsupported property",
        detail or f"Property Name:{element} specified is unsupported or invalid",
        element,
    )


def invalid_enum(element: str, value: object, allowed: tuple[str, ...]) -> QBOFault:
    return validation(
        2170,
        "Invalid Enumeration",
        f"Invalid Enumeration : {value} for {element}; expected one of {', '.join(allowed)}",
        element,
    )


def to_decimal(value: Any, element: str) -> Decimal:
    if isinstance(value, bool):
        raise invalid(element)
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise invalid(element, f"Property Name:{element} has an invalid number: {value!r}") from None
    if not number.is_finite():
        raise invalid(element, f"Property Name:{element} has an invalid number: {value!r}")
    return number


def to_money(value: Any, element: str) -> Decimal:
    return to_decimal(value, element).quantize(CENT)


def to_bool(value: Any, element: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(element)


def to_date(value: Any, element: str) -> str:
    if not isinstance(value, str):
        raise invalid(element)
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise invalid(element, f"Property Name:{element} has an invalid date: {value!r}") from None


def to_id(value: Any, element: str) -> str:
    """Ids and SyncTokens arrive as strings or ints; they are numeric strings on output."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise invalid(element)
    return str(int(value))


def add_days(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def today(ws: WriteSet) -> str:
    return ws.now.astimezone(ws.realm.tz).date().isoformat()


def require(body: Obj, name: str) -> Any:
    value = body.get(name)
    if value is None or value == [] or value == {}:
        raise required(name)
    return value


def ref_id(body: Obj, name: str) -> str | None:
    ref = body.get(name)
    if ref is None:
        return None
    if isinstance(ref, str | int) and not isinstance(ref, bool):
        return str(ref)
    if not isinstance(ref, dict):
        raise invalid(name)
    value = ref.get("value")
    return None if value is None else str(value)


def invalid_reference(entity: str, element: str, entity_id: str) -> QBOFault:
    return validation(
        2500, "Invalid Reference Id", f"Invalid Reference Id : {entity} assigned is not valid ({entity_id})", element
    )


def lookup(ws: WriteSet, entity: str, entity_id: str, element: str, *, allow_inactive: bool = False) -> Obj:
    """A referenced object: missing → 2500, inactive (made "deleted") → 610."""
    obj = ws.get(entity, entity_id)
    if obj is None:
        raise invalid_reference(entity, element, entity_id)
    if not allow_inactive and obj.get("Active") is False:
        raise not_found(entity, entity_id)
    return obj


def ref_to(obj: Obj, name_field: str = "Name") -> Obj:
    return {"value": obj["Id"], "name": obj.get(name_field, "")}


def resolve(
    ws: WriteSet, body: Obj, name: str, entity: str, *, needed: bool = False, name_field: str | None = None
) -> tuple[Obj | None, Obj | None]:
    """Resolve ``body[name]`` to (output ref with name filled, referenced object)."""
    target_id = ref_id(body, name)
    if target_id is None:
        if needed:
            raise required(name)
        return None, None
    obj = lookup(ws, entity, target_id, name)
    field_name = name_field or ("DisplayName" if entity in ("Vendor", "Customer") else "Name")
    if entity == "Account":
        field_name = "FullyQualifiedName"
    return ref_to(obj, field_name), obj


def account_ref(
    ws: WriteSet, body: Obj, name: str, *, needed: bool = False, types: tuple[str, ...] = ()
) -> tuple[Obj | None, Obj | None]:
    """Resolve an account reference, checking its AccountType when ``types`` is given."""
    ref, account = resolve(ws, body, name, "Account", needed=needed)
    if account is not None and types and account["AccountType"] not in types:
        raise validation(
            6000,
            "A business validation error has occurred while processing your request",
            f"Business Validation Error: {name} must be a {' or '.join(types)} account, not "
            f"{account['AccountType']} ({account['Name']}).",
            name,
        )
    return ref, account


def default_account(ws: WriteSet, account_type: str, *, sub_type: str | None = None) -> Obj | None:
    """The company's first active account of a type (A/P, A/R, Undeposited Funds)."""

    def matches(acc: Obj) -> bool:
        if acc.get("Active") is False:
            return False
        if sub_type is not None:
            return bool(acc.get("AccountSubType") == sub_type)
        return bool(acc["AccountType"] == account_type)

    cache_key = (account_type, sub_type or "")
    cached_id = ws.realm.default_accounts.get(cache_key)
    cached = ws.get("Account", cached_id) if cached_id else None
    if cached is not None and matches(cached):
        return cached
    found = ws.realm.find_one("Account", matches)
    if found is not None:
        ws.realm.default_accounts[cache_key] = found["Id"]
    return found


def system_fields(ws: WriteSet, entity_id: str, sync_token: int, created: str | None) -> Obj:
    return {
        "Id": entity_id,
        "SyncToken": str(sync_token),
        "domain": "QBO",
        "sparse": False,
        "MetaData": {"CreateTime": created or ws.meta_now, "LastUpdatedTime": ws.meta_now},
    }


def parse_instant(text: str, tz: Any) -> datetime:
    """An ISO date or date-time; without an offset it is company-local time."""
    text = text.strip().replace(" ", "+") if "T" in text else text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment
