"""QBOClient: typed QBO operations for one company (realm), built as ``QBOCall``s and sent through SmartSync.

The client never reaches the network itself: every request goes through ``SmartSyncService.execute_with_retry``
(limiter slot, retries, circuit breaker, token refresh). A 2xx answer is parsed into the entities of ``schemas``;
anything else, and every SmartSync failure, is raised as the typed error ``errors.error_from`` builds.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import quote as quote_path

import msgspec
from pydantic import BaseModel, ValidationError

from oodaloo.domains.qbo.errors import QBOError, QBOServerError, error_from
from oodaloo.domains.qbo.schemas import (
    ENTITY_TYPES,
    AgingReport,
    BatchEnvelope,
    BatchItemResponse,
    CDCEnvelope,
    CompanyInfo,
    Invoice,
    Preferences,
    QBOEntity,
    QueryResponse,
    Report,
    encode_json,
)
from oodaloo.infra.exact_json import loads_exact
from oodaloo.infra.http import HttpResponse, TransportError
from oodaloo.infra.jobs.smart_sync import (
    Credentials,
    Priority,
    QBOCall,
    QBOUnavailable,
    SlotTimeout,
    SmartSyncError,
    SmartSyncService,
)

# Pinned once for every call (API_NOTES §1: values below 75 are ignored since Aug 2025).
MINOR_VERSION = 75
# QBO's largest page; paging advances STARTPOSITION (1-based) by the rows received.
MAX_PAGE_SIZE = 1000
# QBO's largest batch (its recommended maximum). A batch is one request to QBO's throttles whatever its size, and one
# of the 40 batch requests a minute it allows per realm and app (ADR 0002). Longer lists go as several batches.
MAX_BATCH_ITEMS = 30
# CDC only looks back this far; older windows need a full sync instead.
CDC_MAX_LOOKBACK = timedelta(days=30)
# Longer statements (big IN lists) go as a POST body: URLs that long are refused by proxies and gateways.
MAX_GET_QUERY_CHARS = 2000
MAX_REQUEST_ID_CHARS = 50
MAX_BATCH_REQUEST_ID_CHARS = 36
# A chunk's request id is "<base>-<chunk number>", within the batch limit of 36.
_BATCH_ID_BASE_CHARS = 30

JSON = "application/json"
VOID_BY_OPERATION = frozenset({"Invoice"})  # POST ?operation=void
VOID_BY_SPARSE_UPDATE = frozenset({"Payment", "BillPayment"})  # POST ?operation=update&include=void, sparse body

E = TypeVar("E", bound=QBOEntity)


def quote(value: str) -> str:
    """``value`` as a quoted QBO query literal: ``O'Brien`` → ``'O\\'Brien'`` (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class BatchOperation:
    """One item of a batch; build it with the class methods."""

    operation: Literal["create", "update", "delete", "void", "query"]
    entity_name: str
    body: Mapping[str, Any] = field(default_factory=dict)
    query: str | None = None

    @classmethod
    def create(cls, entity: QBOEntity) -> BatchOperation:
        return cls("create", entity.entity_name, _creatable(entity))

    @classmethod
    def update(
        cls, entity_type: type[QBOEntity], entity_id: str, sync_token: str, fields: Mapping[str, Any]
    ) -> BatchOperation:
        """A sparse update: only ``fields`` change."""
        return cls("update", entity_type.entity_name, _sparse_body(entity_type, entity_id, sync_token, fields))

    @classmethod
    def delete(cls, entity_type: type[QBOEntity], entity_id: str, sync_token: str) -> BatchOperation:
        return cls("delete", entity_type.entity_name, {"Id": entity_id, "SyncToken": sync_token})

    @classmethod
    def void(cls, entity_type: type[QBOEntity], entity_id: str, sync_token: str) -> BatchOperation:
        _check_voidable(entity_type)
        return cls("void", entity_type.entity_name, {"Id": entity_id, "SyncToken": sync_token, "sparse": True})

    @classmethod
    def select(cls, statement: str) -> BatchOperation:
        return cls("query", "", query=statement)

    def wire(self, b_id: str) -> dict[str, Any]:
        if self.operation == "query":
            return {"bId": b_id, "Query": self.query}
        item: dict[str, Any] = {"bId": b_id, "operation": "update" if self.operation == "void" else self.operation}
        if self.operation == "void":
            item["optionsData"] = "void"
        item[self.entity_name] = dict(self.body)
        return item


@dataclass(frozen=True)
class BatchResult:
    """The answer to one batch item, in the order the items were given: an entity, query rows, or an error."""

    operation: BatchOperation
    entity: QBOEntity | None = None
    rows: list[QBOEntity] | None = None
    error: QBOError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RawPage:
    """One page of objects as QBO sent them, and QBO's own ``time`` of the answer (None if absent).

    ``texts``, when the page was read from QBO's answer, holds each object's own JSON bytes in the order of ``rows``:
    the mirror stores those as they came instead of encoding the parsed objects again."""

    rows: list[dict[str, Any]]
    time: datetime | None
    texts: list[bytes] | None = None


@dataclass(frozen=True)
class RawChanges:
    """A CDC answer as QBO sent it: changed objects by entity name (deleted ones as stubs), and QBO's ``time``."""

    rows: dict[str, list[dict[str, Any]]]
    time: datetime | None


class QBOClient:
    """Typed QBO operations for one realm, sent with the caller's priority and deadline."""

    def __init__(
        self,
        sync: SmartSyncService,
        credentials: Credentials,
        realm_id: str,
        *,
        priority: Priority = Priority.USER,
        deadline: float | None = None,
    ) -> None:
        self._sync = sync
        self._credentials = credentials
        self.realm_id = realm_id
        self.priority = priority
        self.deadline = deadline

    # -- queries ----------------------------------------------------------------------------------------------------

    async def query(
        self, entity_type: type[E], *, where: str | None = None, order_by: str | None = "Id"
    ) -> AsyncIterator[E]:
        """Every matching object, fetched in pages of 1000. Values in ``where`` must be written with :func:`quote`."""
        start = 1
        while True:
            statement = _statement("*", entity_type.entity_name, where, order_by) + f" STARTPOSITION {start}"
            page = await self._query_page(statement + f" MAXRESULTS {MAX_PAGE_SIZE}")
            rows = page.rows(entity_type.entity_name)
            for row in rows:
                yield _parse(entity_type, row)
            if len(rows) < MAX_PAGE_SIZE:
                return
            start += len(rows)

    async def query_all(
        self, entity_type: type[E], *, where: str | None = None, order_by: str | None = "Id"
    ) -> list[E]:
        return [entity async for entity in self.query(entity_type, where=where, order_by=order_by)]

    async def count(self, entity_type: type[QBOEntity], where: str | None = None) -> int:
        return await self.count_raw(entity_type.entity_name, where=where)

    async def count_raw(self, entity_name: str, *, where: str | None = None) -> int:
        statement = _statement("COUNT(*)", entity_name, where, order_by=None)
        return (await self._query_page(statement)).total_count or 0

    async def query_raw(
        self,
        entity_name: str,
        *,
        where: str | None = None,
        order_by: str | None = "Id",
        projection: str = "*",
        start: int = 1,
        max_results: int = MAX_PAGE_SIZE,
    ) -> RawPage:
        """One page of objects of any entity type, untouched, with QBO's time of the answer (for the mirror)."""
        statement = _statement(projection, entity_name, where, order_by)
        response = await self._query_response(f"{statement} STARTPOSITION {start} MAXRESULTS {max_results}")
        return parse_raw_page(response.content, entity_name)

    async def _query_page(self, statement: str) -> QueryResponse:
        body = (await self._query_response(statement)).json()
        return _parse(QueryResponse, (body.get("QueryResponse") if isinstance(body, dict) else None) or {})

    async def _query_response(self, statement: str) -> HttpResponse:
        if len(statement) > MAX_GET_QUERY_CHARS:
            call = self._call("POST", "/query", label="query", body=statement.encode(), content_type="application/text")
        else:
            call = self._call("GET", "/query", label="query", params={"query": statement})
        return await self._send(call)

    # -- single objects ---------------------------------------------------------------------------------------------

    async def read(self, entity_type: type[E], entity_id: str) -> E:
        path = f"/{entity_type.url_segment()}/{quote_path(entity_id, safe='')}"
        response = await self._send(self._call("GET", path, label=f"{entity_type.url_segment()}.read"))
        return _entity(entity_type, response)

    async def create(self, entity: E, *, requestid: str | None = None) -> E:
        segment = entity.url_segment()
        call = self._write(f"/{segment}", _creatable(entity), requestid, label=f"{segment}.create")
        return _entity(type(entity), await self._send(call))

    async def sparse_update(
        self,
        entity_type: type[E],
        entity_id: str,
        sync_token: str,
        fields: Mapping[str, Any],
        *,
        requestid: str | None = None,
    ) -> E:
        """Change only ``fields`` (wire or Python names). A list given (``Line``) replaces the whole list."""
        body = _sparse_body(entity_type, entity_id, sync_token, fields)
        segment = entity_type.url_segment()
        call = self._write(f"/{segment}", body, requestid, label=f"{segment}.update")
        return _entity(entity_type, await self._send(call))

    async def delete(self, entity_type: type[E], entity_id: str, sync_token: str, *, requestid: str | None = None) -> E:
        """Delete a transaction; the answer is a stub whose ``is_deleted`` is true."""
        body = {"Id": entity_id, "SyncToken": sync_token}
        segment = entity_type.url_segment()
        call = self._write(f"/{segment}", body, requestid, label=f"{segment}.delete", params={"operation": "delete"})
        return _entity(entity_type, await self._send(call))

    async def void(self, entity_type: type[E], entity_id: str, sync_token: str, *, requestid: str | None = None) -> E:
        """Void an Invoice, Payment or BillPayment: it stays on the books with its amounts zeroed."""
        _check_voidable(entity_type)
        body: dict[str, Any] = {"Id": entity_id, "SyncToken": sync_token}
        if entity_type.entity_name in VOID_BY_OPERATION:
            params = {"operation": "void"}
        else:
            params = {"operation": "update", "include": "void"}
            body["sparse"] = True
        segment = entity_type.url_segment()
        call = self._write(f"/{segment}", body, requestid, label=f"{segment}.void", params=params)
        return _entity(entity_type, await self._send(call))

    async def send_invoice(
        self, invoice_id: str, *, send_to: str | None = None, requestid: str | None = None
    ) -> Invoice:
        """Email an invoice (to ``send_to``, which also becomes its billing email, or to its billing email)."""
        params = {"sendTo": send_to} if send_to else {}
        call = self._write(
            f"/invoice/{quote_path(invoice_id, safe='')}/send",
            None,
            requestid,
            label="invoice.send",
            params=params,
            content_type="application/octet-stream",
        )
        return _entity(Invoice, await self._send(call))

    # -- change data capture and batch ------------------------------------------------------------------------------

    async def cdc(
        self, entity_types: Sequence[type[QBOEntity]], changed_since: datetime
    ) -> dict[type[QBOEntity], list[QBOEntity]]:
        """Objects of these types changed since ``changed_since`` (deleted ones as stubs with ``is_deleted``).

        QBO looks back 30 days at most; an older ``changed_since`` is refused here, before any call.
        """
        if not entity_types:
            return {}
        raw = await self.cdc_raw([entity_type.entity_name for entity_type in entity_types], changed_since)
        return {
            entity_type: [_parse(entity_type, row) for row in raw.rows[entity_type.entity_name]]
            for entity_type in entity_types
        }

    async def cdc_raw(self, entity_names: Sequence[str], changed_since: datetime) -> RawChanges:
        """Like :meth:`cdc`, for any entity types, the objects as QBO sent them, with QBO's time of the answer."""
        if changed_since.tzinfo is None:
            raise ValueError("changed_since must be timezone-aware")
        if changed_since < datetime.now(UTC) - CDC_MAX_LOOKBACK:
            raise ValueError(
                f"QBO change data capture looks back at most {CDC_MAX_LOOKBACK.days} days; "
                f"{changed_since.isoformat()} is older (run a full sync instead)"
            )
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in entity_names}
        if not entity_names:
            return RawChanges(rows, None)
        params = {"entities": ",".join(entity_names), "changedSince": changed_since.isoformat(timespec="seconds")}
        body = (await self._send(self._call("GET", "/cdc", label="cdc", params=params))).json()
        envelope = _parse(CDCEnvelope, body)
        for block in envelope.cdc_response:
            for section in block.query_response:
                for name in entity_names:
                    rows[name] += section.rows(name)
        return RawChanges(rows, envelope.time)

    async def batch(self, items: Sequence[BatchOperation], *, requestid: str | None = None) -> list[BatchResult]:
        """Send ``items`` in batches of at most ``MAX_BATCH_ITEMS``; one result per item, in order.

        Each batch gets its own request id derived from ``requestid`` (so a retried batch replays, never repeats).
        """
        results: list[BatchResult] = []
        for number, start in enumerate(range(0, len(items), MAX_BATCH_ITEMS)):
            chunk = items[start : start + MAX_BATCH_ITEMS]
            chunk_id = _chunk_requestid(requestid, number) if requestid else None
            results += await self._send_batch(chunk, chunk_id)
        return results

    async def _send_batch(self, chunk: Sequence[BatchOperation], requestid: str | None) -> list[BatchResult]:
        wire = {"BatchItemRequest": [item.wire(str(index)) for index, item in enumerate(chunk)]}
        call = self._write("/batch", wire, requestid, label="batch", is_batch=True)
        envelope = _parse(BatchEnvelope, (await self._send(call)).json())
        answers = {answer.b_id: answer for answer in envelope.batch_item_response}
        return [_batch_result(item, answers.get(str(index))) for index, item in enumerate(chunk)]

    # -- reports and company ----------------------------------------------------------------------------------------

    async def aged_payables(self, report_date: date | None = None) -> AgingReport:
        return await self._aging("AgedPayables", report_date)

    async def aged_receivables(self, report_date: date | None = None) -> AgingReport:
        return await self._aging("AgedReceivables", report_date)

    async def _aging(self, name: str, report_date: date | None) -> AgingReport:
        params = {"report_date": report_date.isoformat()} if report_date else {}
        call = self._call("GET", f"/reports/{name}", label=f"report.{name}", params=params)
        response = await self._send(call)
        return AgingReport.from_report(_parse(Report, response.json()))

    async def company_info(self) -> CompanyInfo:
        path = f"/companyinfo/{quote_path(self.realm_id, safe='')}"
        return _entity(CompanyInfo, await self._send(self._call("GET", path, label="companyinfo.read")))

    async def read_singleton_raw(self, entity_name: Literal["CompanyInfo", "Preferences"]) -> dict[str, Any]:
        """CompanyInfo or Preferences as QBO sent it (for the mirror)."""
        path = f"/companyinfo/{quote_path(self.realm_id, safe='')}" if entity_name == "CompanyInfo" else "/preferences"
        body = (await self._send(self._call("GET", path, label=f"{entity_name.lower()}.read"))).json()
        payload = body.get(entity_name) if isinstance(body, dict) else None
        if not isinstance(payload, dict):
            raise QBOServerError(f"QuickBooks answered without the {entity_name}")
        return payload

    async def preferences(self) -> Preferences:
        return _entity(Preferences, await self._send(self._call("GET", "/preferences", label="preferences.read")))

    # -- request building and sending -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        label: str,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        is_write: bool = False,
        is_batch: bool = False,
    ) -> QBOCall:
        return QBOCall(
            realm_id=self.realm_id,
            method=method,
            path=f"/v3/company/{quote_path(self.realm_id, safe='')}{path}",
            params={**(params or {}), "minorversion": str(MINOR_VERSION)},
            body=body,
            content_type=content_type,
            is_write=is_write,
            label=label,
            is_batch=is_batch,
        )

    def _write(
        self,
        path: str,
        body: Any,
        requestid: str | None,
        *,
        label: str,
        params: Mapping[str, str] | None = None,
        content_type: str = JSON,
        is_batch: bool = False,
    ) -> QBOCall:
        limit = MAX_BATCH_REQUEST_ID_CHARS if path == "/batch" else MAX_REQUEST_ID_CHARS
        if requestid is not None and not 0 < len(requestid) <= limit:
            raise ValueError(f"requestid must be 1 to {limit} characters")
        all_params = {**(params or {}), **({"requestid": requestid} if requestid else {})}
        content = b"" if body is None else encode_json(body)
        return self._call(
            "POST",
            path,
            label=label,
            params=all_params,
            body=content,
            content_type=content_type,
            is_write=True,
            is_batch=is_batch,
        )

    async def _send(self, call: QBOCall) -> HttpResponse:
        try:
            response = await self._sync.execute_with_retry(
                call, credentials=self._credentials, priority=self.priority, deadline=self.deadline
            )
        except QBOUnavailable:
            raise  # the one "QuickBooks unavailable" error, answered 503 as it is (see errors.error_from)
        except (SmartSyncError, SlotTimeout, TransportError) as exc:
            raise error_from(exc) from exc
        if not 200 <= response.status < 300:
            raise error_from(response)
        return response


def _statement(projection: str, entity_name: str, where: str | None, order_by: str | None) -> str:
    # QBO's query language, not SQL; callers quote values in `where` with quote().
    statement = f"SELECT {projection} FROM {entity_name}"  # noqa: S608
    if where:
        statement += f" WHERE {where}"
    if order_by:
        # Ties in the sort key would let rows move between pages; Id breaks them.
        keys = [part.split()[0].lower() for part in order_by.split(",") if part.strip()]
        statement += f" ORDERBY {order_by}" + ("" if "id" in keys else ", Id")
    return statement


def _answer_time(value: Any) -> datetime | None:
    """QBO's ``time`` of an answer (its own clock, with the company's offset), if it sent a readable one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])


def parse_raw_page(content: bytes, entity_name: str) -> RawPage:
    """A query answer's objects of ``entity_name``, each parsed (exact amounts) beside its own bytes, read without
    parsing the answer whole and encoding each object again. An answer that is not an object, or holds no list under
    the entity's name, has no objects; a ``QueryResponse`` that is not an object is refused."""
    body = _members(content)
    if body is None:
        return RawPage([], None, [])
    answer = _members(body["QueryResponse"]) if "QueryResponse" in body else {}
    if answer is None:
        raise QBOServerError("QuickBooks sent a QueryResponse Oodaloo could not read", detail="not a JSON object")
    rows: list[dict[str, Any]] = []
    texts: list[bytes] = []
    for item in _items(answer.get(entity_name)):
        text = bytes(item)
        row = loads_exact(text)
        if isinstance(row, dict):
            rows.append(row)
            texts.append(text)
    time = _answer_time(loads_exact(bytes(body["time"]))) if "time" in body else None
    return RawPage(rows, time, texts)


def _members(document: bytes | msgspec.Raw) -> dict[str, msgspec.Raw] | None:
    """A JSON object's members, each still as its bytes; None for JSON that is not an object. Raises ValueError when
    ``document`` is not JSON."""
    try:
        return _MEMBERS.decode(document)
    except msgspec.ValidationError:
        return None
    except msgspec.DecodeError as error:
        raise ValueError(f"the response body is not JSON: {error}") from error


def _items(document: msgspec.Raw | None) -> list[msgspec.Raw]:
    """A JSON array's items, each still as its bytes; none for anything else."""
    if document is None:
        return []
    try:
        return _ITEMS.decode(document)
    except msgspec.ValidationError:
        return []


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise QBOServerError(f"QuickBooks sent a {model.__name__} Oodaloo could not read", detail=str(exc)) from exc


def _entity(entity_type: type[E], response: HttpResponse) -> E:
    body = response.json()
    payload = body.get(entity_type.entity_name) if isinstance(body, dict) else None
    if not isinstance(payload, dict):
        raise QBOServerError(
            f"QuickBooks answered without the {entity_type.entity_name}",
            status=response.status,
            intuit_tid=response.headers.get("intuit_tid"),
        )
    return _parse(entity_type, payload)


def _creatable(entity: QBOEntity) -> dict[str, Any]:
    if entity.id:
        raise ValueError(f"{entity.entity_name} {entity.id} already exists; update it instead of creating it")
    return entity.to_wire()


def _sparse_body(
    entity_type: type[QBOEntity], entity_id: str, sync_token: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    wire_names = {name: info.alias or name for name, info in entity_type.model_fields.items()}
    changes = {wire_names.get(name, name): value for name, value in fields.items()}
    return {**changes, "Id": entity_id, "SyncToken": sync_token, "sparse": True}


def _check_voidable(entity_type: type[QBOEntity]) -> None:
    if entity_type.entity_name not in VOID_BY_OPERATION | VOID_BY_SPARSE_UPDATE:
        raise ValueError(f"QBO cannot void a {entity_type.entity_name}; delete it instead")


def _chunk_requestid(requestid: str, number: int) -> str:
    base = requestid
    if len(base) > _BATCH_ID_BASE_CHARS:
        base = hashlib.sha256(requestid.encode()).hexdigest()[:_BATCH_ID_BASE_CHARS]
    return f"{base}-{number}"


def _batch_result(item: BatchOperation, answer: BatchItemResponse | None) -> BatchResult:
    if answer is None:
        return BatchResult(item, error=QBOServerError("QuickBooks did not answer this batch item"))
    if answer.fault is not None:
        return BatchResult(item, error=error_from(answer.fault))
    if answer.query_response is not None:
        return BatchResult(item, rows=_query_rows(answer.query_response))
    payload = answer.entity_payload()
    if payload is None:
        return BatchResult(item, error=QBOServerError("QuickBooks answered this batch item without an object"))
    name, row = payload
    return BatchResult(item, entity=_parse(ENTITY_TYPES[name], row))


def _query_rows(page: QueryResponse) -> list[QBOEntity]:
    rows: list[QBOEntity] = []
    for name in page.entity_names():
        entity_type = ENTITY_TYPES.get(name)
        if entity_type is not None:
            rows += [_parse(entity_type, row) for row in page.rows(name)]
    return rows
