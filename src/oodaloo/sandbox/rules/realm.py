"""One company's data in memory (objects, id counters, CDC change log, replay cache) and the write set applied to it.

Stored objects are never mutated in place: a write builds new dicts and swaps them in at commit, so readers (and the
state-file snapshot) can hold references to old versions safely.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

Obj = dict[str, Any]
Key = tuple[str, str]

NAME_LISTS = ("Account", "Vendor", "Customer", "Term", "Item", "PaymentMethod")
# Sales-tax lists: read and queried through the API; QBO creates them (its TaxService), so the sandbox seeds them.
TAX_LISTS = ("TaxCode", "TaxRate")
TRANSACTIONS = (
    "Bill",
    "BillPayment",
    "Invoice",
    "Payment",
    "Purchase",
    "Deposit",
    "VendorCredit",
    "CreditMemo",
    "SalesReceipt",
    "Transfer",
    "JournalEntry",
)
# Sales forms share one DocNumber sequence.
SALES_FORMS = frozenset({"Invoice", "SalesReceipt", "CreditMemo"})
SINGLETONS = ("CompanyInfo", "Preferences")
ENTITIES = SINGLETONS + NAME_LISTS + TAX_LISTS + TRANSACTIONS

REPLAY_CAPACITY = 100_000


def id_order(entity_id: str) -> tuple[int, int]:
    """Listing order of Ids: numeric ones by value, after the pseudo tax codes ``TAX`` and ``NON`` (as QBO lists)."""
    return (1, int(entity_id)) if entity_id.isdigit() else (0, 0)


def meta_time(moment: datetime, tz: ZoneInfo) -> str:
    """``MetaData`` timestamps: seconds precision with the company's UTC offset."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def response_time(moment: datetime, tz: ZoneInfo) -> str:
    """The top-level ``time`` of responses: milliseconds with the company's UTC offset."""
    return moment.astimezone(tz).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class ChangeEntry:
    at: datetime
    deleted: bool


@dataclass
class Replay:
    """A stored response for a ``requestid``; ``fingerprint`` identifies the original request."""

    status: int
    body: bytes
    fingerprint: str
    at: datetime
    writes: int = 1  # write operations the original request made (a batch makes several)


def index_keys(entity: str, obj: Obj) -> list[tuple[str, ...]]:
    """Uniqueness keys an object occupies: names across Customer/Vendor, list names, Bill numbers per vendor."""
    if entity in ("Vendor", "Customer"):
        return [("Party", str(obj["DisplayName"]).lower())] if obj.get("Active", True) else []
    if entity == "Account":
        return [("Account", str(obj["FullyQualifiedName"]).lower())] if obj.get("Active", True) else []
    if entity in ("Item", "Term", "PaymentMethod"):
        return [(entity, str(obj["Name"]).lower())] if obj.get("Active", True) else []
    if entity == "Bill" and obj.get("DocNumber"):
        return [("BillDoc", obj["VendorRef"]["value"], str(obj["DocNumber"]).lower())]
    return []


@dataclass
class Realm:
    realm_id: str
    tz_name: str
    scenario: str
    seed: int
    size: int | None
    tables: dict[str, dict[str, Obj]] = field(default_factory=lambda: {e: {} for e in ENTITIES})
    max_id: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENTITIES, 0))
    unsorted: set[str] = field(default_factory=set)
    # Per entity, id -> last change; insertion order is change order (entries move to the end when changed again).
    changes: dict[str, OrderedDict[str, ChangeEntry]] = field(
        default_factory=lambda: {e: OrderedDict() for e in ENTITIES}
    )
    # False once a change was logged with an earlier time than the previous one (then CDC scans fully).
    changes_monotonic: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(ENTITIES, True))
    tombstones: dict[str, dict[str, Obj]] = field(default_factory=lambda: {e: {} for e in ENTITIES})
    index: dict[tuple[str, ...], Key] = field(default_factory=dict)
    invoice_number: int = 1000
    replay: OrderedDict[str, Replay] = field(default_factory=OrderedDict)
    email_day: date | None = None
    emails_sent: int = 0
    tz: ZoneInfo = field(init=False)
    # Ids of the A/P, A/R and Undeposited Funds accounts, re-checked on every use.
    default_accounts: dict[tuple[str, str], str] = field(init=False, default_factory=dict)
    # While seeding, balance moves on name-list objects are summed here and applied once by flush_bulk().
    bulk: dict[Key, tuple[dict[str, Any], datetime]] | None = None
    _last_change_at: dict[str, datetime] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.tz_name)

    def get(self, entity: str, entity_id: str) -> Obj | None:
        return self.tables[entity].get(entity_id)

    def ordered(self, entity: str) -> list[Obj]:
        """All objects of an entity in ascending numeric Id order (what the query evaluator expects)."""
        table = self.tables[entity]
        if entity in self.unsorted:
            ordered = sorted(table.items(), key=lambda item: id_order(item[0]))
            table.clear()
            table.update(ordered)
            self.unsorted.discard(entity)
        return list(table.values())

    def next_id(self, entity: str) -> str:
        return str(self.max_id[entity] + 1)

    def count(self, entity: str) -> int:
        return len(self.tables[entity])

    def find_one(self, entity: str, predicate: Any) -> Obj | None:
        return next((obj for obj in self.tables[entity].values() if predicate(obj)), None)

    def store_object(self, entity: str, obj: Obj) -> None:
        entity_id = obj["Id"]
        table = self.tables[entity]
        if entity_id not in table:
            if not entity_id.isdigit():
                self.unsorted.add(entity)  # a pseudo tax code lists first
            elif int(entity_id) < self.max_id[entity]:
                self.unsorted.add(entity)
            else:
                self.max_id[entity] = int(entity_id)
        table[entity_id] = obj

    def log_change(self, entity: str, entity_id: str, at: datetime, *, deleted: bool) -> None:
        log = self.changes[entity]
        last = self._last_change_at.get(entity)
        if last is not None and at < last:
            self.changes_monotonic[entity] = False
        self._last_change_at[entity] = at if last is None or at > last else last
        log.pop(entity_id, None)
        log[entity_id] = ChangeEntry(at, deleted)

    def flush_bulk(self) -> None:
        """Apply the balance moves summed while seeding, each stamped with the time of its last transaction."""
        pending, self.bulk = self.bulk or {}, None
        for (entity, entity_id), (deltas, at) in sorted(pending.items(), key=lambda item: item[1][1]):
            obj = dict(self.tables[entity][entity_id])
            for field_name, delta in deltas.items():
                obj[field_name] = obj.get(field_name, 0) + delta
            obj["MetaData"] = {**obj["MetaData"], "LastUpdatedTime": meta_time(at, self.tz)}
            self.tables[entity][entity_id] = obj
            self.log_change(entity, entity_id, at, deleted=False)

    def restore_changes(self, entity: str, entries: list[tuple[str, ChangeEntry]], *, monotonic: bool) -> None:
        """Reinstall a change log read from the state file."""
        self.changes[entity] = OrderedDict(entries)
        self.changes_monotonic[entity] = monotonic
        if entries:
            self._last_change_at[entity] = max(entry.at for _, entry in entries)

    def changed_since(self, entity: str, since: datetime) -> list[tuple[str, ChangeEntry]]:
        """Changes at or after ``since``, oldest first."""
        log = self.changes[entity]
        if not self.changes_monotonic[entity]:
            found = [(i, e) for i, e in log.items() if e.at >= since]
            found.sort(key=lambda item: item[1].at)
            return found
        recent: list[tuple[str, ChangeEntry]] = []
        for entity_id in reversed(log):
            entry = log[entity_id]
            if entry.at < since:
                break
            recent.append((entity_id, entry))
        recent.reverse()
        return recent

    def remember(self, request_id: str, replay: Replay) -> None:
        self.replay[request_id] = replay
        self.replay.move_to_end(request_id)
        while len(self.replay) > REPLAY_CAPACITY:
            self.replay.popitem(last=False)


@dataclass
class Event:
    entity: str
    entity_id: str
    operation: str


class WriteSet:
    """Pending changes of one write; nothing touches the realm until :meth:`commit`.

    ``quiet`` objects (a Vendor's or Account's balance moved by a transaction) are logged for CDC with a new
    ``LastUpdatedTime`` but keep their SyncToken and raise no change event.
    """

    def __init__(self, realm: Realm, now: datetime) -> None:
        self.realm = realm
        self.now = now
        self.meta_now = meta_time(now, realm.tz)
        self.puts: dict[Key, Obj] = {}
        self.removed: dict[Key, Obj] = {}
        self.events: list[Event] = []
        self.bulk: dict[Key, dict[str, Any]] = {}
        self._reserved_ids: dict[str, int] = {}

    def get(self, entity: str, entity_id: str) -> Obj | None:
        key = (entity, entity_id)
        pending = self.puts.get(key)
        if pending is not None:
            return pending
        if self.removed and key in self.removed:
            return None
        return self.realm.tables[entity].get(entity_id)

    def new_id(self, entity: str) -> str:
        number = max(self._reserved_ids.get(entity, 0), self.realm.max_id[entity]) + 1
        self._reserved_ids[entity] = number
        return str(number)

    def put(self, entity: str, obj: Obj, operation: str | None) -> None:
        self.puts[(entity, obj["Id"])] = obj
        if operation is not None:
            self.events.append(Event(entity, obj["Id"], operation))

    def remove(self, entity: str, entity_id: str, stub: Obj) -> None:
        self.puts.pop((entity, entity_id), None)
        self.removed[(entity, entity_id)] = stub
        self.events.append(Event(entity, entity_id, "Delete"))

    def index_owner(self, key: tuple[str, ...]) -> Key | None:
        """Who holds a uniqueness key once this write commits (pending versions win over stored ones)."""
        for (entity, entity_id), obj in self.puts.items():
            if key in index_keys(entity, obj):
                return entity, entity_id
        owner = self.realm.index.get(key)
        if owner is None or owner in self.puts or owner in self.removed:
            return None
        return owner

    def commit(self) -> list[Event]:
        realm = self.realm
        for (entity, entity_id), obj in self.puts.items():
            old = realm.get(entity, entity_id)
            if old is not None:
                for key in index_keys(entity, old):
                    realm.index.pop(key, None)
            for key in index_keys(entity, obj):
                realm.index[key] = (entity, entity_id)
            realm.store_object(entity, obj)
            if entity in SALES_FORMS and str(obj.get("DocNumber", "")).isdigit():
                realm.invoice_number = max(realm.invoice_number, int(obj["DocNumber"]))
            realm.log_change(entity, entity_id, self.now, deleted=False)
        if realm.bulk is not None:
            for key, deltas in self.bulk.items():
                summed = realm.bulk.get(key, ({}, self.now))[0]
                for field_name, delta in deltas.items():
                    summed[field_name] = summed.get(field_name, 0) + delta
                realm.bulk[key] = (summed, self.now)
        for (entity, entity_id), stub in self.removed.items():
            old = realm.tables[entity].pop(entity_id, None)
            if old is not None:
                for key in index_keys(entity, old):
                    realm.index.pop(key, None)
            realm.tombstones[entity][entity_id] = stub
            realm.log_change(entity, entity_id, self.now, deleted=True)
        return self.events
