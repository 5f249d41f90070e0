"""The sandbox's in-memory data store: realms seeded from demo scenarios, change events, and the state file.

Writes run as synchronous critical sections on the event loop under :attr:`Store.lock`; the background saver takes
the same lock only to snapshot references (stored objects are immutable), then serializes outside it.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import demo, entities
from .config import SandboxConfig
from .events import ChangeEvent, ChangeListener
from .faults import QBOFault
from .jsonio import dumps_state, loads_state
from .rules.realm import ENTITIES, ChangeEntry, Event, Realm, Replay, index_keys
from .stats import SandboxStats

log = logging.getLogger(__name__)

STATE_VERSION = 1
SAVE_DEBOUNCE_SECONDS = 1.0
SEED_OPTIONS = frozenset({"allowduplicatedocnum"})


class SeedError(RuntimeError):
    """The demo generator produced an operation the business rules refuse (a bug in one or the other)."""


class Store:
    def __init__(self, config: SandboxConfig, stats: SandboxStats) -> None:
        self.config = config
        self.stats = stats
        self.default_realm_id = config.realm_id
        self.lock = threading.RLock()
        self._realms: dict[str, Realm] = {}
        self._listeners: list[ChangeListener] = []
        self._save_lock = threading.Lock()
        self._dirty = threading.Event()
        self._saver: threading.Thread | None = None

    # -- realms ---------------------------------------------------------------------------------------------------

    def realm(self, realm_id: str) -> Realm | None:
        return self._realms.get(realm_id)

    def realm_ids(self) -> list[str]:
        return list(self._realms)

    def ensure_demo_realm(self) -> None:
        """Load the state file if there is one; make sure the configured demo realm exists."""
        state_file = self.config.state_file
        if state_file is not None and state_file.exists():
            self._load(state_file)
        if self.default_realm_id not in self._realms:
            self.create_realm(
                scenario=self.config.scenario,
                seed=self.config.seed,
                size=self.config.size,
                realm_id=self.default_realm_id,
            )

    def create_realm(self, *, scenario: str, seed: int, size: int | None, realm_id: str | None = None) -> Realm:
        """A new company seeded from a demo scenario (replaces any realm with the same id)."""
        with self.lock:
            realm_id = realm_id or self._new_realm_id()
            realm = Realm(realm_id=realm_id, tz_name=self.config.timezone, scenario=scenario, seed=seed, size=size)
            self._seed(realm)
            self._realms[realm_id] = realm
        self.mark_dirty()
        return realm

    def reset_realm(self, realm_id: str) -> Realm:
        """Reseed a realm from its own scenario and seed, dropping everything written since."""
        current = self._realms[realm_id]
        return self.create_realm(scenario=current.scenario, seed=current.seed, size=current.size, realm_id=realm_id)

    def _new_realm_id(self) -> str:
        while True:
            candidate = str(9_130_000_000_000_000 + secrets.randbelow(10**15))
            if candidate not in self._realms:
                return candidate

    def _seed(self, realm: Realm) -> None:
        now = datetime.now(UTC)  # the demo history ends here: nothing is stamped after the realm is made
        company = demo.generate_demo(
            realm.scenario,  # type: ignore[arg-type]
            seed=realm.seed,
            now=now,
            tz=realm.tz_name,
            size=realm.size,
        )
        start = company.ops[0].at if company.ops else now
        entities.seed_singleton(realm, "CompanyInfo", company.company_info, now=start)
        entities.seed_singleton(realm, "Preferences", company.preferences, now=start)
        realm.bulk = {}
        for op in company.ops:
            try:
                entities.create(realm, op.entity, op.body, now=op.at, options=SEED_OPTIONS, seed_id=str(op.body["Id"]))
            except QBOFault as fault:
                raise SeedError(f"seeding {op.entity} {op.body.get('Id')} failed: {fault}") from fault
        realm.flush_bulk()

    # -- events -----------------------------------------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def publish(self, realm_id: str, events: Iterable[Event], at: datetime) -> None:
        """Tell listeners about a committed write and schedule a save."""
        for event in events:
            change = ChangeEvent(realm_id, event.entity, event.entity_id, event.operation, at)
            for listener in self._listeners:
                try:
                    listener(change)
                except Exception:  # a broken listener must not fail the write that already committed
                    log.exception("change listener failed for %s", change)
        self.mark_dirty()

    # -- persistence ------------------------------------------------------------------------------------------------

    def mark_dirty(self) -> None:
        if self.config.state_file is None:
            return
        self._dirty.set()
        if self._saver is None:
            self._saver = threading.Thread(
                target=_save_loop, args=(weakref.ref(self), self._dirty), name="sandbox-state-saver", daemon=True
            )
            self._saver.start()

    def save(self) -> None:
        """Write every realm to the state file atomically (temp file + rename)."""
        state_file = self.config.state_file
        if state_file is None:
            return
        with self._save_lock:
            with self.lock:
                snapshot = {
                    "version": STATE_VERSION,
                    "realms": [_realm_state(realm) for realm in self._realms.values()],
                }
            data = dumps_state(snapshot)
            state_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=state_file.name, suffix=".tmp", dir=state_file.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                Path(tmp).replace(state_file)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def _load(self, state_file: Path) -> None:
        state = loads_state(state_file.read_bytes())
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{state_file}: unsupported sandbox state version {state.get('version')!r}")
        with self.lock:
            for realm_state in state["realms"]:
                realm = _realm_from_state(realm_state)
                self._realms[realm.realm_id] = realm


def _save_loop(store_ref: weakref.ref[Store], dirty: threading.Event) -> None:
    """Save at most once a second while writes keep coming; exits when the store is gone."""
    while True:
        if not dirty.wait(timeout=5.0):
            if store_ref() is None:
                return
            continue
        time.sleep(SAVE_DEBOUNCE_SECONDS)
        dirty.clear()
        store = store_ref()
        if store is None:
            return
        try:
            store.save()
        except Exception:
            log.exception("saving the sandbox state failed")
        del store


def _realm_state(realm: Realm) -> dict[str, Any]:
    return {
        "realm_id": realm.realm_id,
        "tz_name": realm.tz_name,
        "scenario": realm.scenario,
        "seed": realm.seed,
        "size": realm.size,
        "invoice_number": realm.invoice_number,
        "email_day": realm.email_day.isoformat() if realm.email_day else None,
        "emails_sent": realm.emails_sent,
        "max_id": dict(realm.max_id),
        "tables": {e: list(table.values()) for e, table in realm.tables.items()},
        "tombstones": {e: list(stubs.values()) for e, stubs in realm.tombstones.items()},
        "changes": {
            e: [[entity_id, entry.at.isoformat(), entry.deleted] for entity_id, entry in log_.items()]
            for e, log_ in realm.changes.items()
        },
        "changes_monotonic": dict(realm.changes_monotonic),
        "replay": [
            [rid, r.status, r.body.decode(), r.fingerprint, r.at.isoformat(), r.writes]
            for rid, r in realm.replay.items()
        ],
    }


def _realm_from_state(state: dict[str, Any]) -> Realm:
    realm = Realm(
        realm_id=state["realm_id"],
        tz_name=state["tz_name"],
        scenario=state["scenario"],
        seed=state["seed"],
        size=state["size"],
    )
    realm.invoice_number = state["invoice_number"]
    realm.email_day = datetime.fromisoformat(state["email_day"]).date() if state["email_day"] else None
    realm.emails_sent = state["emails_sent"]
    realm.max_id.update(state["max_id"])
    for entity in ENTITIES:
        table = realm.tables[entity]
        for obj in state["tables"].get(entity, []):
            table[obj["Id"]] = obj
            for key in index_keys(entity, obj):
                realm.index[key] = (entity, obj["Id"])
        realm.tombstones[entity] = {stub["Id"]: stub for stub in state["tombstones"].get(entity, [])}
        realm.restore_changes(
            entity,
            [
                (entity_id, ChangeEntry(datetime.fromisoformat(at), deleted))
                for entity_id, at, deleted in state["changes"].get(entity, [])
            ],
            monotonic=state["changes_monotonic"].get(entity, True),
        )
    realm.unsorted.update(ENTITIES)  # cheap to re-sort once; never trust file order for paging
    for rid, status, body, fingerprint, at, writes in state["replay"]:
        realm.replay[rid] = Replay(status, body.encode(), fingerprint, datetime.fromisoformat(at), writes)
    return realm
