"""The sandbox's QBO Accounting API v3 (``/company/{realmId}/...`` below the ``/v3`` mount): CRUD, query, CDC,
batch, reports, invoice send/PDF, with ``requestid`` replay. Authentication and limits are the gate's job.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import entities, query, reports
from .faults import (
    QBOFault,
    app_not_authorized_body,
    business,
    not_found,
    required,
    system_error,
    unsupported,
    validation,
)
from .jsonio import dumps, loads_request
from .rules.common import invalid, parse_instant
from .rules.realm import Event, Obj, Realm, Replay, response_time
from .stats import SandboxStats
from .store import Store

log = logging.getLogger(__name__)

JSON_TYPE = "application/json;charset=UTF-8"
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
# Query-string parameters that don't change what a request means (a retry may add or drop them).
_NEUTRAL_PARAMS = frozenset({"requestid", "minorversion"})


def _now() -> datetime:
    return datetime.now(UTC)


def _response(body: bytes, status: int = 200, media_type: str = JSON_TYPE) -> Response:
    return Response(body, status_code=status, media_type=media_type, headers={"intuit_tid": str(uuid.uuid4())})


def _json(realm: Realm, payload: Obj, status: int = 200) -> Response:
    return _response(_encode(realm, payload), status)


def _encode(realm: Realm, payload: Obj) -> bytes:
    return dumps({**payload, "time": response_time(_now(), realm.tz)})


def _fault_body(realm: Realm, fault: QBOFault) -> bytes:
    return _encode(realm, {"Fault": fault.fault_json()})


@dataclass
class _Outcome:
    """The result of a write request before it is sent (and stored for ``requestid`` replay)."""

    status: int
    body: bytes
    writes: int = 1


class V3Api:
    """Request handling bound to one store."""

    def __init__(self, store: Store, stats: SandboxStats) -> None:
        self.store = store
        self.stats = stats

    async def dispatch(self, request: Request) -> Response:
        realm = self.store.realm(request.path_params["realm_id"])
        if realm is None:
            return _response(dumps(app_not_authorized_body()), 403)
        try:
            return await self._route(request, realm)
        except QBOFault as fault:
            return _response(_fault_body(realm, fault), fault.status)
        except Exception:
            log.exception("sandbox request failed: %s %s", request.method, request.url.path)
            failure = system_error()
            return _response(_fault_body(realm, failure), failure.status)

    async def _route(self, request: Request, realm: Realm) -> Response:
        parts = [p for p in request.path_params["rest"].split("/") if p]
        head = parts[0].lower() if parts else ""
        method = request.method
        if head == "query" and len(parts) == 1:
            return await self._query(request, realm)
        if head == "cdc" and len(parts) == 1 and method == "GET":
            return self._cdc(request, realm)
        if head == "batch" and len(parts) == 1 and method == "POST":
            return await self._write(request, realm, batch=True)
        if head == "reports" and len(parts) == 2 and method == "GET":
            report = reports.build_report(realm, parts[1], dict(request.query_params), _now())
            return _response(dumps(report))
        if head == "companyinfo" and method == "GET" and len(parts) == 2:
            if parts[1] not in (realm.realm_id, "1"):
                raise not_found("CompanyInfo", parts[1])
            return _json(realm, {"CompanyInfo": entities.read(realm, "CompanyInfo", "1")})
        if head == "preferences" and method == "GET" and len(parts) == 1:
            return _json(realm, {"Preferences": entities.read(realm, "Preferences", "1")})
        entity = entities.canonical(head)
        if entity is None:
            raise unsupported(f"{method} /{'/'.join(parts)}")
        if len(parts) == 1 and method == "POST":
            return await self._write(request, realm, entity=entity)
        if len(parts) == 2 and method == "GET" and entity not in entities.SINGLETONS:
            return _json(realm, {entity: entities.read(realm, entity, parts[1])})
        if len(parts) == 3 and entity == "Invoice":
            action = parts[2].lower()
            if action == "send" and method == "POST":
                return await self._write(request, realm, entity=entity, send_id=parts[1])
            if action == "pdf" and method == "GET":
                invoice = entities.read(realm, "Invoice", parts[1])
                return _response(reports.invoice_pdf(invoice), media_type="application/pdf")
        raise unsupported(f"{method} /{'/'.join(parts)}")

    # -- query ------------------------------------------------------------------------------------------------------

    async def _query(self, request: Request, realm: Realm) -> Response:
        text = request.query_params.get("query")
        if request.method == "POST":
            raw = await request.body()
            if raw.strip():
                text = raw.decode("utf-8", errors="replace")
        elif request.method != "GET":
            raise unsupported(f"{request.method} query")
        return _json(realm, {"QueryResponse": self._run_query(realm, text or "")})

    def _run_query(self, realm: Realm, text: str) -> Obj:
        parsed = query.parse_query(text)
        entity = query.canonical_entity(parsed.entity)
        if entity is None:
            raise validation(4001, "Invalid query", f"QueryValidationError: {parsed.entity} is not a valid entity")
        with self.store.lock:
            objects = realm.ordered(entity)
        if parsed.count:
            return {"totalCount": query.count(parsed, objects, entity=entity, tz=realm.tz)}
        rows = query.execute(parsed, objects, entity=entity, tz=realm.tz)
        if not rows:
            return {}
        return {entity: rows, "startPosition": parsed.start_position, "maxResults": len(rows)}

    # -- CDC --------------------------------------------------------------------------------------------------------

    def _cdc(self, request: Request, realm: Realm) -> Response:
        names = request.query_params.get("entities", "")
        since_text = request.query_params.get("changedSince", "")
        if not names.strip():
            raise required("entities")
        if not since_text.strip():
            raise required("changedSince")
        wanted: list[str] = []
        for name in names.split(","):
            entity = entities.canonical(name.strip())
            if entity is None or entity in entities.NOT_IN_CDC:
                raise invalid("entities", f"Entity {name.strip()!r} is not supported for CDC")
            if entity not in wanted:
                wanted.append(entity)
        try:
            since = parse_instant(since_text, realm.tz)
        except ValueError:
            raise invalid("changedSince", f"Invalid changedSince: {since_text!r}") from None
        lookback = self.store.config.cdc_lookback_days
        if since < _now() - timedelta(days=lookback):
            raise validation(
                4001,
                "Invalid query",
                f"Operation cdc with changedSince date {since_text} which is older than fixed days is not supported. "
                f"Please use changedSince within the last {lookback} days.",
                "changedSince",
            )
        sections = [s for entity in wanted if (s := self._cdc_section(realm, entity, since))]
        return _json(realm, {"CDCResponse": [{"QueryResponse": sections or [{}]}]})

    def _cdc_section(self, realm: Realm, entity: str, since: datetime) -> Obj | None:
        # Oldest changes first, capped: a client can move its watermark to the newest LastUpdatedTime it got.
        with self.store.lock:
            changes = realm.changed_since(entity, since)[: self.store.config.cdc_max_objects]
            rows = [
                realm.tombstones[entity][entity_id] if entry.deleted else realm.tables[entity][entity_id]
                for entity_id, entry in changes
            ]
        if not rows:
            return None
        return {entity: rows, "startPosition": 1, "maxResults": len(rows)}

    # -- writes -----------------------------------------------------------------------------------------------------

    async def _write(
        self,
        request: Request,
        realm: Realm,
        *,
        entity: str | None = None,
        batch: bool = False,
        send_id: str | None = None,
    ) -> Response:
        raw = await request.body()
        request_id = request.query_params.get("requestid") or None
        limit = MAX_BATCH_REQUEST_ID if batch else MAX_REQUEST_ID
        if request_id is not None and len(request_id) > limit:
            raise business(f"You cannot enter more than {limit} characters in the request_id field", "requestid")
        fingerprint = _fingerprint(request, raw)
        if request_id:
            replay = realm.replay.get(request_id)
            if replay is not None:
                return self._replay(realm, replay, fingerprint)

        def run() -> _Outcome:
            if batch:
                return self._batch(realm, raw)
            if send_id is not None:
                return self._outcome(realm, lambda now: self._send(realm, send_id, request, now))
            assert entity is not None
            return self._outcome(realm, lambda now: self._entity_write(realm, entity, request, raw, now))

        with self.store.lock:
            outcome = run()
            if request_id and outcome.status < 500:
                realm.remember(request_id, Replay(outcome.status, outcome.body, fingerprint, _now(), outcome.writes))
        if not batch:
            self.stats.record_write(realm.realm_id, replayed=False)
        return _response(outcome.body, outcome.status)

    def _replay(self, realm: Realm, replay: Replay, fingerprint: str) -> Response:
        if self.store.config.requestid_mismatch == "fault" and replay.fingerprint != fingerprint:
            fault = validation(
                600,
                "RequestId already exists in the system, duplicate request is detected",
                "Duplicate request is detected: this requestid was used with a different request.",
                "requestid",
            )
            return _response(_fault_body(realm, fault), fault.status)
        for _ in range(replay.writes):
            self.stats.record_write(realm.realm_id, replayed=True)
        return _response(replay.body, replay.status)

    def _outcome(self, realm: Realm, action: Callable[[datetime], tuple[str, Obj, list[Event]]]) -> _Outcome:
        now = _now()
        try:
            entity, obj, events = action(now)
        except QBOFault as fault:
            return _Outcome(fault.status, _fault_body(realm, fault))
        self.store.publish(realm.realm_id, events, now)
        return _Outcome(200, _encode(realm, {entity: obj}))

    def _entity_write(
        self, realm: Realm, entity: str, request: Request, raw: bytes, now: datetime
    ) -> tuple[str, Obj, list[Event]]:
        operation = (request.query_params.get("operation") or "").lower()
        options = frozenset(o.strip().lower() for o in request.query_params.get("include", "").split(",") if o)
        if operation == "void" or (operation == "update" and "void" in options):
            operation = "void"
        obj, events = self._apply(realm, entity, operation, loads_request(raw), options, now)
        return entity, obj, events

    def _apply(
        self, realm: Realm, entity: str, operation: str, body: Any, options: frozenset[str], now: datetime
    ) -> tuple[Obj, list[Event]]:
        if operation == "delete":
            return entities.delete(realm, entity, body, now=now)
        if operation == "void":
            return entities.void(realm, entity, body, now=now)
        if operation not in ("", "create", "update"):
            raise unsupported(operation)
        is_update = operation == "update" or (
            operation == "" and isinstance(body, dict) and body.get("Id") not in (None, "")
        )
        if is_update or entity in entities.SINGLETONS:
            return entities.update(realm, entity, body, now=now, options=options)
        return entities.create(realm, entity, body, now=now, options=options)

    def _send(self, realm: Realm, invoice_id: str, request: Request, now: datetime) -> tuple[str, Obj, list[Any]]:
        obj, events = entities.send_invoice(realm, invoice_id, request.query_params.get("sendTo"), now=now)
        return "Invoice", obj, events

    # -- batch ------------------------------------------------------------------------------------------------------

    def _batch(self, realm: Realm, raw: bytes) -> _Outcome:
        try:
            items = _batch_items(loads_request(raw), self.store.config.limits.max_batch_items)
        except QBOFault as fault:
            return _Outcome(fault.status, _fault_body(realm, fault), writes=0)
        responses: list[Obj] = []
        writes = 0
        for item in items:
            response, wrote = self._batch_item(realm, item)
            responses.append(response)
            writes += wrote
        return _Outcome(200, _encode(realm, {"BatchItemResponse": responses}), writes=writes)

    def _batch_item(self, realm: Realm, item: Obj) -> tuple[Obj, int]:
        bid = item.get("bId")
        echo: Obj = {"bId": bid} if bid is not None else {}
        try:
            if "Query" in item:
                return {**echo, "QueryResponse": self._run_query(realm, str(item["Query"]))}, 0
            operation, entity, body, options = _batch_write(item)
        except QBOFault as fault:
            return {**echo, "Fault": fault.fault_json()}, 0
        now = _now()
        self.stats.record_write(realm.realm_id, replayed=False)
        try:
            obj, events = self._apply(realm, entity, operation, body, options, now)
        except QBOFault as fault:
            return {**echo, "Fault": fault.fault_json()}, 1
        self.store.publish(realm.realm_id, events, now)
        return {**echo, entity: obj}, 1


def _batch_items(body: Any, max_items: int) -> list[Obj]:
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise validation(400, "MalformedRequest", "Batch Request is Empty", "BatchItemRequest")
    if len(items) > max_items:
        raise validation(
            400,
            "MalformedRequest",
            f"Batch Request size {len(items)} exceeds the maximum of {max_items} items.",
            "BatchItemRequest",
        )
    if not all(isinstance(item, dict) for item in items):
        raise invalid("BatchItemRequest")
    bids = [item.get("bId") for item in items]
    if len(set(map(str, bids))) != len(bids):
        raise validation(400, "MalformedRequest", "Each batch item needs a unique bId.", "bId")
    return items


def _batch_write(item: Obj) -> tuple[str, str, Any, frozenset[str]]:
    if item.get("bId") in (None, ""):
        raise required("bId")
    operation = str(item.get("operation", "")).lower()
    if operation not in ("create", "update", "delete"):
        raise unsupported(f"batch operation {item.get('operation')!r}")
    named = [(entities.canonical(key), key) for key in item if key not in ("bId", "operation", "optionsData")]
    found = [(entity, key) for entity, key in named if entity is not None]
    if len(found) != 1:
        raise invalid("BatchItemRequest", "Each batch item must carry exactly one entity object or a Query")
    entity, key = found[0]
    assert entity is not None
    options = frozenset(o.strip().lower() for o in str(item.get("optionsData", "")).split(",") if o.strip())
    if operation == "update" and "void" in options:
        operation = "void"
    return operation, entity, item[key], options


def _fingerprint(request: Request, body: bytes) -> str:
    params = sorted((k.lower(), v) for k, v in request.query_params.multi_items() if k.lower() not in _NEUTRAL_PARAMS)
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path.lower()} {params!r}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def build_v3_app(store: Store, stats: SandboxStats) -> Starlette:
    """The ASGI app the gate mounts at ``/v3``."""
    api = V3Api(store, stats)

    async def not_found(request: Request) -> Response:
        fault = unsupported(f"{request.method} {request.url.path}")
        return _response(dumps({"Fault": fault.fault_json(), "time": datetime.now(UTC).isoformat()}), 404)

    return Starlette(
        routes=[
            Route("/company/{realm_id}/{rest:path}", api.dispatch, methods=["GET", "POST"]),
            Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]
    )
