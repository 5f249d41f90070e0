"""Entity operations with QBO's business rules: create, read, full/sparse update, delete, void, invoice send.

Each operation validates completely into a :class:`WriteSet` before anything is stored, then commits atomically and
returns the resulting object plus the change events to publish.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .faults import business, not_found, required, stale_object, unsupported
from .rules import adjustments, effects, namelists, transactions
from .rules.common import clean, invalid, system_fields, to_bool, to_id
from .rules.realm import ENTITIES, NAME_LISTS, SINGLETONS, TAX_LISTS, TRANSACTIONS, Event, Obj, Realm, WriteSet

__all__ = [
    "ENTITIES",
    "NAME_LISTS",
    "NOT_IN_CDC",
    "SINGLETONS",
    "TAX_LISTS",
    "TRANSACTIONS",
    "canonical",
    "create",
    "delete",
    "read",
]

MAX_EMAILS_PER_DAY = 40
VOIDABLE = ("Invoice", "Payment", "BillPayment", "SalesReceipt")
# Entities CDC refuses (QBO's CDC supports neither TaxCode nor TaxRate).
NOT_IN_CDC = SINGLETONS + TAX_LISTS
# The pseudo tax codes carry no version fields in QBO's responses.
_UNVERSIONED = ("SyncToken", "domain", "sparse")
PARTY_FIELD = {"Bill": "VendorRef", "Invoice": "CustomerRef"}

_BY_LOWER = {name.lower(): name for name in ENTITIES}

Builder = Callable[[WriteSet, Obj, Obj | None, str], Obj]
_BUILDERS: dict[str, Builder] = {
    "Account": namelists.build_account,
    "Vendor": namelists.build_vendor,
    "Customer": namelists.build_customer,
    "Term": namelists.build_term,
    "Item": namelists.build_item,
    "PaymentMethod": namelists.build_payment_method,
    "TaxCode": namelists.build_tax_code,
    "TaxRate": namelists.build_tax_rate,
    **transactions.BUILDERS,
    **adjustments.BUILDERS,
}

Result = tuple[Obj, list[Event]]


def effects_of(ws: WriteSet, entity: str, obj: Obj) -> effects.Effects:
    """What a stored transaction of any kind does to accounts, names and linked transactions."""
    handler = adjustments.EFFECTS.get(entity)
    if handler is None:
        return transactions.effects_of(ws, entity, obj)
    found = effects.Effects()
    handler(ws, obj, found)
    return found


def canonical(segment: str) -> str | None:
    """The canonical entity name for a URL segment in any case (``billpayment`` → ``BillPayment``)."""
    return _BY_LOWER.get(segment.lower())


def read(realm: Realm, entity: str, entity_id: str) -> Obj:
    obj = realm.get(entity, entity_id)
    if obj is None:
        raise not_found(entity, entity_id)
    return obj


def _body(value: Any) -> Obj:
    if not isinstance(value, dict):
        raise invalid("body", "The request body must be a JSON object")
    cleaned: Obj = clean(value)
    return cleaned


def _build(ws: WriteSet, entity: str, body: Obj, prev: Obj | None, entity_id: str, options: frozenset[str]) -> Obj:
    if entity == "Bill":
        allow = "allowduplicatedocnum" in options
        return transactions.build_bill(ws, body, prev, entity_id, allow_duplicate=allow)
    return _BUILDERS[entity](ws, body, prev, entity_id)


def create(
    realm: Realm,
    entity: str,
    raw_body: Any,
    *,
    now: datetime,
    options: frozenset[str] = frozenset(),
    seed_id: str | None = None,
) -> Result:
    """Create an object; ``seed_id`` (demo seeding) keeps a pre-assigned Id. Tax lists are only seeded."""
    if entity in SINGLETONS or (entity in TAX_LISTS and seed_id is None):
        raise unsupported(f"Create for {entity}")
    body = _body(raw_body)
    ws = WriteSet(realm, now)
    entity_id = seed_id if seed_id is not None else ws.new_id(entity)
    if seed_id is not None and realm.get(entity, seed_id) is not None:
        raise business(f"{entity} {seed_id} already exists.", "Id")
    obj = {**system_fields(ws, entity_id, 0, None), **_build(ws, entity, body, None, entity_id, options)}
    if not entity_id.isdigit():
        obj = {key: value for key, value in obj.items() if key not in _UNVERSIONED}
    if entity in TRANSACTIONS:
        effects.apply(ws, None, effects_of(ws, entity, obj))
    ws.put(entity, obj, "Create")
    return obj, ws.commit()


def _current(realm: Realm, entity: str, body: Obj, *, default_id: str | None = None) -> Obj:
    """The stored object named by ``body`` whose SyncToken the body must match (optimistic concurrency)."""
    raw_id = body.get("Id", default_id)
    if raw_id is None:
        raise required("Id")
    entity_id = to_id(raw_id, "Id")
    prev = realm.get(entity, entity_id)
    if prev is None:
        raise not_found(entity, entity_id)
    if body.get("SyncToken") is None:
        raise required("SyncToken")
    if to_id(body["SyncToken"], "SyncToken") != prev["SyncToken"]:
        raise stale_object()
    return prev


def _next_version(ws: WriteSet, prev: Obj) -> Obj:
    return system_fields(ws, prev["Id"], int(prev["SyncToken"]) + 1, prev["MetaData"]["CreateTime"])


def update(realm: Realm, entity: str, raw_body: Any, *, now: datetime, options: frozenset[str] = frozenset()) -> Result:
    """Full update (omitted writable fields cleared) or sparse update (``"sparse": true``: only given fields)."""
    if entity in TAX_LISTS:
        raise unsupported(f"Update for {entity}")
    body = _body(raw_body)
    prev = _current(realm, entity, body, default_id="1" if entity in SINGLETONS else None)
    sparse = to_bool(body.get("sparse", False), "sparse")
    ws = WriteSet(realm, now)
    if entity in SINGLETONS:
        fields = {**prev, **body} if sparse else body
        obj = {**fields, **_next_version(ws, prev)}
    else:
        merged = {**prev, **body} if sparse else body
        obj = {**_next_version(ws, prev), **_build(ws, entity, merged, prev, prev["Id"], options)}
        _refuse_party_change(entity, prev, obj)
    if entity in TRANSACTIONS:
        effects.apply(ws, effects_of(ws, entity, prev), effects_of(ws, entity, obj))
    ws.put(entity, obj, "Update")
    return obj, ws.commit()


def _refuse_party_change(entity: str, prev: Obj, obj: Obj) -> None:
    party = PARTY_FIELD.get(entity)
    if party and prev.get("LinkedTxn") and prev[party]["value"] != obj[party]["value"]:
        raise business(f"You can't change the {party[:-3].lower()} of a {entity.lower()} that has payments applied.")


def delete(realm: Realm, entity: str, raw_body: Any, *, now: datetime) -> Result:
    """Delete a transaction, undoing everything it did. Name lists are made inactive instead (update)."""
    if entity not in TRANSACTIONS:
        raise unsupported(f"Delete for {entity}")
    prev = _current(realm, entity, _body(raw_body))
    transactions.check_deletable(entity, prev)
    ws = WriteSet(realm, now)
    effects.apply(ws, effects_of(ws, entity, prev), None)
    stub = {"Id": prev["Id"], "status": "Deleted", "domain": "QBO", "MetaData": {"LastUpdatedTime": ws.meta_now}}
    ws.remove(entity, prev["Id"], stub)
    events = ws.commit()
    return {"status": "Deleted", "domain": "QBO", "Id": prev["Id"]}, events


def void(realm: Realm, entity: str, raw_body: Any, *, now: datetime) -> Result:
    """Void an Invoice, SalesReceipt, Payment or BillPayment: the record stays with zero amounts; balances are
    restored."""
    if entity not in VOIDABLE:
        raise unsupported(f"Void for {entity}")
    prev = _current(realm, entity, _body(raw_body))
    if entity == "Invoice" and prev.get("LinkedTxn"):
        raise business("This invoice has payments applied; delete or unlink them before voiding it.", "LinkedTxn")
    if entity in ("Payment", "SalesReceipt"):
        transactions.check_deletable(entity, prev)
    ws = WriteSet(realm, now)
    obj = {**transactions.voided(prev, entity, ws.meta_now), **_next_version(ws, prev)}
    effects.apply(ws, effects_of(ws, entity, prev), effects_of(ws, entity, obj))
    ws.put(entity, obj, "Void")
    return obj, ws.commit()


def send_invoice(realm: Realm, invoice_id: str, send_to: str | None, *, now: datetime) -> Result:
    """Email an invoice (sandbox: nothing is sent); sets EmailStatus, DeliveryInfo and BillEmail."""
    prev = read(realm, "Invoice", to_id(invoice_id, "Id"))
    address = send_to or (prev.get("BillEmail") or {}).get("Address")
    if not address:
        raise business("An email address is required to send this invoice: set BillEmail or pass sendTo.", "BillEmail")
    if "@" not in address:
        raise business(f"Invalid email address: {address}", "BillEmail")
    day = now.astimezone(realm.tz).date()
    sent_today = realm.emails_sent if realm.email_day == day else 0
    if sent_today >= MAX_EMAILS_PER_DAY:
        raise business(f"The sandbox company has reached its limit of {MAX_EMAILS_PER_DAY} emails today.")
    ws = WriteSet(realm, now)
    obj = {
        **prev,
        **_next_version(ws, prev),
        "EmailStatus": "EmailSent",
        "BillEmail": {"Address": address},
        "DeliveryInfo": {"DeliveryType": "Email", "DeliveryTime": ws.meta_now},
    }
    ws.put("Invoice", obj, "Emailed")
    events = ws.commit()
    realm.email_day, realm.emails_sent = day, sent_today + 1
    return obj, events


def seed_singleton(realm: Realm, entity: str, fields: Obj, *, now: datetime) -> None:
    """Install CompanyInfo or Preferences (Id "1") for a new realm."""
    ws = WriteSet(realm, now)
    obj = {**clean(fields), **system_fields(ws, "1", 0, None)}
    ws.put(entity, obj, None)
    ws.commit()
