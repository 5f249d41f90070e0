"""Helpers for the mirror's tests: a business connected to a realm of a served sandbox, the sync services built over
real HTTP for one call, the sandbox's own view of a realm (objects with exact Decimals, call counts), and the check
that the mirror equals the sandbox entity by entity."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from sqlalchemy import select

from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.auth import ConnectionState
from oodaloo.domains.qbo.mirror_models import MIRRORED, NAME_LISTS, SINGLETONS, MirroredRow, MirrorStatus, SyncOutcome
from oodaloo.domains.qbo.sync import MirrorSync, SyncReport
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.jobs.smart_sync import RateLimits, SmartSyncService

T = TypeVar("T")
# The limiter's per-second window shortened, so a sync's pages are not spread over seconds (the sandbox's throttling
# is off in these tests).
FAST_WINDOWS = RateLimits(second_seconds=0.05)


class MintedCredentials:
    """Tokens minted by the sandbox's admin path (what the OAuth flow would have stored)."""

    def __init__(self, sandbox: str, realm_id: str) -> None:
        self._sandbox = sandbox
        self._realm_id = realm_id
        self._token: str | None = None

    async def access_token(self) -> str:
        if self._token is None:
            return await self.refresh_after_unauthorized("")
        return self._token

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        async with httpx.AsyncClient(base_url=self._sandbox, timeout=30) as admin:
            answer = await admin.post("/_sandbox/tokens", json={"realm_id": self._realm_id})
            answer.raise_for_status()
        self._token = str(answer.json()["access_token"])
        return self._token


@dataclass
class Connected:
    """Businesses connected to realms of one sandbox (what ``ConnectionService`` answers for a connected business)."""

    sandbox: str
    realms: dict[uuid.UUID, str] = field(default_factory=dict)

    async def status(self, business_id: uuid.UUID) -> ConnectionState:
        return ConnectionState(business_id, "connected", self.realms[business_id], None, (), None, None, None, None)

    def credentials(self, business_id: uuid.UUID) -> MintedCredentials:
        return MintedCredentials(self.sandbox, self.realms[business_id])


@dataclass
class Realm:
    """One sandbox realm, seen through its v3 API (objects parsed with exact Decimals) and its admin paths."""

    sandbox: str
    realm_id: str

    @classmethod
    def create(cls, sandbox: str, **options: Any) -> Realm:
        response = httpx.post(f"{sandbox}/_sandbox/realms", json={"scenario": "healthy", **options}, timeout=60)
        assert response.status_code == 201, response.text
        return cls(sandbox, response.json()["realm_id"])

    def api(self) -> httpx.Client:
        token = httpx.post(f"{self.sandbox}/_sandbox/tokens", json={"realm_id": self.realm_id}).json()["access_token"]
        return httpx.Client(
            base_url=f"{self.sandbox}/v3/company/{self.realm_id}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=30,
        )

    def objects(self, entity: str) -> dict[str, dict[str, Any]]:
        """Every object of ``entity`` (inactive names too), by Id."""
        with self.api() as api:
            if entity in SINGLETONS:
                path = f"/companyinfo/{self.realm_id}" if entity == "CompanyInfo" else "/preferences"
                one = _exact(api.get(path))[entity]
                return {str(one.get("Id", "1")): one}
            where = " WHERE Active IN (true, false)" if entity in NAME_LISTS else ""
            found: dict[str, dict[str, Any]] = {}
            while True:
                statement = f"SELECT * FROM {entity}{where} ORDERBY Id STARTPOSITION {len(found) + 1} MAXRESULTS 1000"
                rows = _exact(api.get("/query", params={"query": statement}))["QueryResponse"].get(entity, [])
                found.update({str(row["Id"]): row for row in rows})
                if len(rows) < 1000:
                    return found

    def supports(self, entity: str) -> bool:
        """False for a type this sandbox does not serve yet (it answers "not a valid entity")."""
        if entity in SINGLETONS:
            return True
        with self.api() as api:
            return api.get("/query", params={"query": f"SELECT COUNT(*) FROM {entity}"}).status_code == 200

    def calls(self) -> Counter[str]:
        """Requests the realm answered, by endpoint (``query``, ``cdc``, ``companyinfo``, ...), since the reset."""
        stats = httpx.get(f"{self.sandbox}/_sandbox/stats", params={"realm_id": self.realm_id}).json()
        return Counter({endpoint: sum(by_status.values()) for endpoint, by_status in stats["requests"].items()})

    def reset_calls(self) -> None:
        httpx.post(f"{self.sandbox}/_sandbox/stats/reset", json={"realm_id": self.realm_id}).raise_for_status()

    def post(self, path: str, body: dict[str, Any], **params: str) -> httpx.Response:
        with self.api() as api:
            return api.post(path, json=body, params=params)


def _exact(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.content, parse_float=Decimal)
    return body


@dataclass
class Harness:
    """A business of the test database connected to ``realm``; ``run`` builds the services for one call."""

    database_url: str
    realm: Realm
    business_id: uuid.UUID
    entities: tuple[str, ...]

    @classmethod
    def connect(cls, database_url: str, realm: Realm) -> Harness:
        async def new_business() -> uuid.UUID:
            database = Database(database_url)
            try:
                async with unit_of_work(database.sessionmaker) as session:
                    business = Business(name=f"Mirror {uuid.uuid4().hex[:6]}", timezone="America/Los_Angeles")
                    session.add(business)
                    await session.flush()
                    return business.id
            finally:
                await database.dispose()

        return cls.of(database_url, realm, asyncio.run(new_business()))

    @classmethod
    def of(cls, database_url: str, realm: Realm, business_id: uuid.UUID | str) -> Harness:
        """The mirror of a business already connected to ``realm``, over every entity the realm serves."""
        entities = tuple(name for name in MIRRORED if realm.supports(name))
        return cls(database_url, realm, uuid.UUID(str(business_id)), entities)

    def full_sync(self) -> SyncReport:
        """A full sync, which must succeed."""
        report = self.run(lambda mirror: mirror.full(self.business_id))
        assert report.outcome is SyncOutcome.SUCCEEDED
        return report

    def run(self, action: Callable[[MirrorSync], Awaitable[T]], **options: Any) -> T:
        async def go() -> T:
            database = Database(self.database_url)
            sync = SmartSyncService.create(
                api_base_url=self.realm.sandbox, sessionmaker=database.sessionmaker, limits=FAST_WINDOWS
            )
            connections = Connected(self.realm.sandbox, {self.business_id: self.realm.realm_id})
            mirror = MirrorSync(
                sync=sync,
                connections=connections,
                sessionmaker=database.sessionmaker,
                entities=options.pop("entities", self.entities),
                **options,
            )
            try:
                return await action(mirror)
            finally:
                await sync.aclose()
                await database.dispose()

        return asyncio.run(go())

    def query(self, statement_of: Callable[[], Any]) -> list[Any]:
        async def go() -> list[Any]:
            database = Database(self.database_url)
            try:
                async with unit_of_work(database.sessionmaker) as session:
                    return list((await session.execute(statement_of())).scalars().all())
            finally:
                await database.dispose()

        return asyncio.run(go())

    def rows(self, entity: str) -> dict[str, MirroredRow]:
        model = MIRRORED[entity]
        found = self.query(lambda: select(model).where(model.business_id == self.business_id))
        return {row.qbo_id: row for row in found}

    def assert_mirror_equals_sandbox(self) -> None:
        """Entity by entity: the same live Ids, each with QBO's exact object (SyncToken, amounts, balances), the typed
        columns read from it; everything else in the mirror is marked deleted."""
        for entity in self.entities:
            remote = self.realm.objects(entity)
            rows = self.rows(entity)
            live = {qbo_id: row for qbo_id, row in rows.items() if row.status is not MirrorStatus.DELETED}
            assert set(live) == set(remote), f"{entity}: ids differ"
            for qbo_id, obj in remote.items():
                row = live[qbo_id]
                assert row.raw == obj, f"{entity} {qbo_id} differs: {_difference(row.raw, obj)}"
                assert row.sync_token == obj.get("SyncToken"), f"{entity} {qbo_id}: SyncToken"
                for column, value in MIRRORED[entity].typed_values(obj).items():
                    assert getattr(row, column) == value, f"{entity} {qbo_id}: {column}"
            for row in rows.values():
                if row.qbo_id not in remote:
                    assert row.status is MirrorStatus.DELETED
                    assert row.deleted_at is not None


def _difference(mirrored: dict[str, Any], actual: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    keys = set(mirrored) | set(actual)
    return {key: (mirrored.get(key), actual.get(key)) for key in keys if mirrored.get(key) != actual.get(key)}


def paged_calls(realm: Realm, entities: tuple[str, ...], page_size: int = 1000) -> int:
    """The fewest calls that page through every type: a page per ``page_size`` objects, and the short last page that
    says the type is done (an empty one when the count is a multiple); one read per singleton."""
    total = 0
    for entity in entities:
        count = len(realm.objects(entity))
        total += 1 if entity in SINGLETONS else count // page_size + 1
    return total
