"""QBO connections against the sandbox over real HTTP: connect, encrypted tokens, single-flight refresh, reconnect.

Run as a script (``python -m tests.domains.qbo.test_auth ...``) it is one of the refreshing processes of the
multi-process test.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from oodaloo.domains.core.models import Business, Membership, Role, User
from oodaloo.domains.core.schemas import BusinessIn
from oodaloo.domains.core.service import AccountService, BusinessService
from oodaloo.domains.qbo.auth import (
    RECONNECT_MESSAGE,
    ConnectionService,
    InvalidConnectState,
)
from oodaloo.domains.qbo.models import QBOConnection
from oodaloo.infra.crypto import DecryptionFailed, TokenCipher, generate_key
from oodaloo.infra.db.engine import Database
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.http import HttpRequest, HttpTransport
from oodaloo.infra.jobs.models import Activity
from oodaloo.infra.jobs.smart_sync import ReconnectRequired, SmartSyncService
from oodaloo.infra.locks import LocalLocks, LockFactory, make_locks
from oodaloo.infra.logging import configure_logging
from oodaloo.infra.oauth import OAuthClient, OAuthGrantRejected
from oodaloo.infra.web.errors import PermissionDenied
from oodaloo.sandbox.app import create_sandbox_app
from oodaloo.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, LimitsConfig, OAuthConfig, SandboxConfig
from tests.support.credentials import TEST_PASSWORD
from tests.support.servers import serve

TEST_DATABASE_URL = os.environ.get("OODALOO_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("OODALOO_TEST_REDIS_URL")
REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
STATE_SECRET = "test-state-secret-0123456789abcdef"
PASSWORD = TEST_PASSWORD
KEY = generate_key()
PROCESSES = 4


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    # Every refresh rotates the refresh token and the old one dies at once (the strictest reading of Intuit).
    oauth = OAuthConfig(refresh_rotation_seconds=0, old_refresh_grace_seconds=0)
    with serve(create_sandbox_app(SandboxConfig(oauth=oauth, limits=LimitsConfig(enabled=False)))) as base_url:
        yield base_url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    transport = HttpTransport()
    yield transport
    await transport.aclose()


def build_service(
    database: Database,
    transport: HttpTransport,
    sandbox: str,
    *,
    keys: list[str] | None = None,
    locks: LockFactory | None = None,
    clock_offset: timedelta = timedelta(0),
) -> ConnectionService:
    oauth = OAuthClient(
        transport,
        discovery_url=f"{sandbox}/.well-known/openid_configuration",
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
    )
    return ConnectionService(
        sessionmaker=database.sessionmaker,
        oauth=oauth,
        cipher=TokenCipher(keys or [KEY]),
        locks=locks or LocalLocks(),
        # In-process limiter, breaker and cache (nothing to close); the transport stays the fixture's.
        sync=SmartSyncService.create(api_base_url=sandbox, sessionmaker=database.sessionmaker, transport=transport),
        state_secret=STATE_SECRET,
        redirect_uri=REDIRECT_URI,
        clock=lambda: datetime.now(UTC) + clock_offset,
    )


@pytest.fixture
def service(database: Database, transport: HttpTransport, sandbox: str) -> ConnectionService:
    return build_service(database, transport, sandbox)


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    business_id: uuid.UUID
    session_token: str


async def new_member(database: Database, role: Role = Role.OWNER, business_id: uuid.UUID | None = None) -> Member:
    """A signed-in user who owns a new business, or holds ``role`` in ``business_id``."""
    async with unit_of_work(database.sessionmaker) as session:
        accounts = AccountService(session)
        user = await accounts.sign_up(f"qbo-{uuid.uuid4().hex[:12]}@example.com", PASSWORD, None)
        if business_id is None:
            business_id = (await BusinessService(session).create(user, BusinessIn(name="Acme", timezone="UTC"))).id
        else:
            session.add(Membership(business_id=business_id, user_id=user.id, role=role))
        started = await accounts.start_session(user)
        return Member(user.id, business_id, started.token)


async def another_session(database: Database, user_id: uuid.UUID) -> str:
    """A second sign-in of the same user (another browser)."""
    async with unit_of_work(database.sessionmaker) as session:
        user = await session.get(User, user_id)
        assert user is not None
        return (await AccountService(session).start_session(user)).token


async def consent(authorize_url: str) -> dict[str, str]:
    """The browser's part at QBO: the sandbox consents at once and redirects to our callback."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(authorize_url)
    assert response.status_code == 302, response.text
    return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def connect(service: ConnectionService, member: Member) -> str:
    """The whole dance; returns the realm id."""
    callback = await consent(await service.start(member.business_id, member.user_id, member.session_token))
    await service.complete(callback["state"], callback["code"], callback["realmId"], member.session_token)
    return callback["realmId"]


async def refresh_calls(sandbox: str, realm_id: str) -> int:
    async with httpx.AsyncClient() as admin:
        count: int = (await admin.get(f"{sandbox}/_sandbox/tokens")).json()["refresh_calls"][realm_id]
        return count


async def sandbox_admin(sandbox: str, path: str, realm_id: str) -> None:
    async with httpx.AsyncClient() as admin:
        (await admin.post(f"{sandbox}{path}", json={"realm_id": realm_id})).raise_for_status()


async def qbo_status(transport: HttpTransport, sandbox: str, realm_id: str, token: str) -> int:
    """What QBO answers a data call made with ``token``."""
    response = await transport.send(
        HttpRequest(
            "GET",
            f"{sandbox}/v3/company/{realm_id}/companyinfo/{realm_id}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
    )
    return response.status


async def stored(database: Database, business_id: uuid.UUID) -> QBOConnection:
    async with unit_of_work(database.sessionmaker) as session:
        row = (await session.execute(select(QBOConnection).where(QBOConnection.business_id == business_id))).scalar()
        assert row is not None
        return row


async def activity_kinds(database: Database, business_id: uuid.UUID) -> list[str]:
    async with unit_of_work(database.sessionmaker) as session:
        statement = select(Activity.kind).where(Activity.business_id == business_id).order_by(Activity.created_at)
        return list((await session.execute(statement)).scalars())


# --- connecting -----------------------------------------------------------------------------------


async def test_connecting_stores_the_realm_and_encrypted_tokens(
    service: ConnectionService, database: Database, transport: HttpTransport, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)

    status = await service.status(member.business_id)
    assert (status.status, status.realm_id, status.scopes) == (
        "connected",
        realm_id,
        ("com.intuit.quickbooks.accounting",),
    )
    token = await service.credentials(member.business_id).access_token()
    assert await qbo_status(transport, sandbox, realm_id, token) == 200
    row = await stored(database, member.business_id)
    assert row.access_token_encrypted is not None
    assert row.refresh_token_encrypted is not None
    assert token.encode() not in row.access_token_encrypted
    assert TokenCipher([KEY]).decrypt(row.access_token_encrypted) == token
    async with unit_of_work(database.sessionmaker) as session:
        business = await session.get(Business, member.business_id)
        assert business is not None
        assert business.qbo_realm_id == realm_id
    assert await activity_kinds(database, member.business_id) == ["qbo.connect"]


async def test_key_rotation_reencrypts_stored_tokens_that_still_work(
    service: ConnectionService, database: Database, transport: HttpTransport, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)
    token = await service.credentials(member.business_id).access_token()

    new_key = generate_key()
    rotated = build_service(database, transport, sandbox, keys=[new_key, KEY])
    assert member.business_id in (await rotated.reencrypt_tokens()).rotated
    row = await stored(database, member.business_id)
    assert row.access_token_encrypted is not None
    assert TokenCipher([new_key]).decrypt(row.access_token_encrypted) == token
    with pytest.raises(DecryptionFailed):
        TokenCipher([KEY]).decrypt(row.access_token_encrypted)
    new_only = build_service(database, transport, sandbox, keys=[new_key])
    assert await new_only.credentials(member.business_id).access_token() == token
    # A deployment missing the key reports the row rather than failing the whole rotation, and leaves it intact.
    assert member.business_id in (await build_service(database, transport, sandbox).reencrypt_tokens()).unreadable
    assert await new_only.credentials(member.business_id).access_token() == token
    assert await qbo_status(transport, sandbox, realm_id, token) == 200


async def test_state_is_bound_to_signature_session_and_age(
    service: ConnectionService, database: Database, transport: HttpTransport, sandbox: str
) -> None:
    member = await new_member(database)
    callback = await consent(await service.start(member.business_id, member.user_id, member.session_token))
    state, code, realm_id = callback["state"], callback["code"], callback["realmId"]

    with pytest.raises(InvalidConnectState, match="invalid or has expired"):
        await service.complete(
            state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1], code, realm_id, member.session_token
        )
    other_session = await another_session(database, member.user_id)
    with pytest.raises(InvalidConnectState, match="another sign-in session"):
        await service.complete(state, code, realm_id, other_session)
    eleven_minutes_later = build_service(database, transport, sandbox, clock_offset=timedelta(minutes=11))
    with pytest.raises(InvalidConnectState, match="expired"):
        await eleven_minutes_later.complete(state, code, realm_id, member.session_token)
    assert (await service.status(member.business_id)).status == "not_connected"

    await service.complete(state, code, realm_id, member.session_token)  # the genuine callback still works
    assert (await service.status(member.business_id)).status == "connected"


async def test_only_advisors_and_owners_may_complete_a_connection(
    service: ConnectionService, database: Database
) -> None:
    owner = await new_member(database)
    viewer = await new_member(database, Role.VIEWER, owner.business_id)
    callback = await consent(await service.start(owner.business_id, viewer.user_id, viewer.session_token))
    with pytest.raises(PermissionDenied, match="advisor"):
        await service.complete(callback["state"], callback["code"], callback["realmId"], viewer.session_token)
    assert (await service.status(owner.business_id)).status == "not_connected"


async def test_disconnect_revokes_at_qbo_and_erases_tokens(
    service: ConnectionService, database: Database, transport: HttpTransport, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)
    token = await service.credentials(member.business_id).access_token()

    status = await service.disconnect(member.business_id, member.user_id)
    assert (status.status, status.realm_id) == ("disconnected", realm_id)
    assert await qbo_status(transport, sandbox, realm_id, token) == 401  # revoked at QBO
    row = await stored(database, member.business_id)
    assert (row.access_token_encrypted, row.refresh_token_encrypted) == (None, None)
    with pytest.raises(ReconnectRequired, match="not connected"):
        await service.credentials(member.business_id).access_token()
    assert await activity_kinds(database, member.business_id) == ["qbo.connect", "qbo.disconnect"]
    await connect(service, member)  # connecting again reuses the row
    assert (await service.status(member.business_id)).status == "connected"


# --- refreshing -----------------------------------------------------------------------------------


async def test_an_expired_access_token_is_refreshed_once_and_the_rotated_refresh_token_stored(
    service: ConnectionService, database: Database, transport: HttpTransport, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)
    credentials = service.credentials(member.business_id)
    old_token = await credentials.access_token()
    old_refresh = TokenCipher([KEY]).decrypt(
        _not_none((await stored(database, member.business_id)).refresh_token_encrypted)
    )
    await sandbox_admin(sandbox, "/_sandbox/tokens/expire", realm_id)
    assert await qbo_status(transport, sandbox, realm_id, old_token) == 401
    before = await refresh_calls(sandbox, realm_id)

    new_token = await credentials.refresh_after_unauthorized(old_token)
    assert new_token != old_token
    assert await qbo_status(transport, sandbox, realm_id, new_token) == 200
    # A late caller that also saw the old token rejected gets the new one without another refresh.
    assert await service.credentials(member.business_id).refresh_after_unauthorized(old_token) == new_token
    assert await credentials.access_token() == new_token
    assert await refresh_calls(sandbox, realm_id) == before + 1

    row = await stored(database, member.business_id)
    new_refresh = TokenCipher([KEY]).decrypt(_not_none(row.refresh_token_encrypted))
    assert new_refresh != old_refresh
    assert row.last_refreshed_at is not None
    with pytest.raises(OAuthGrantRejected):  # the superseded refresh token is dead at QBO
        await build_service(database, transport, sandbox)._oauth.refresh(old_refresh)


async def test_a_token_close_to_expiry_is_refreshed_before_use(
    service: ConnectionService, database: Database, transport: HttpTransport, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)
    old_token = await service.credentials(member.business_id).access_token()
    async with unit_of_work(database.sessionmaker) as session:
        soon = datetime.now(UTC) + timedelta(minutes=2)
        await session.execute(
            update(QBOConnection)
            .where(QBOConnection.business_id == member.business_id)
            .values(access_token_expires_at=soon)
        )
    before = await refresh_calls(sandbox, realm_id)
    credentials = service.credentials(member.business_id)
    fresh = await credentials.access_token()
    assert fresh != old_token
    assert await credentials.access_token() == fresh
    assert await service.credentials(member.business_id).access_token() == fresh
    assert await refresh_calls(sandbox, realm_id) == before + 1
    expires_at = (await stored(database, member.business_id)).access_token_expires_at
    assert expires_at is not None
    assert expires_at > datetime.now(UTC) + timedelta(minutes=55)


async def test_a_revoked_refresh_token_turns_the_connection_to_needs_reconnect(
    service: ConnectionService, database: Database, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)
    token = await service.credentials(member.business_id).access_token()
    await sandbox_admin(sandbox, "/_sandbox/tokens/revoke", realm_id)

    with pytest.raises(ReconnectRequired) as raised:
        await service.credentials(member.business_id).refresh_after_unauthorized(token)
    assert str(raised.value) == RECONNECT_MESSAGE
    status = await service.status(member.business_id)
    assert (status.status, status.message) == ("needs_reconnect", RECONNECT_MESSAGE)
    assert await activity_kinds(database, member.business_id) == ["qbo.connect", "qbo.needs_reconnect"]
    async with httpx.AsyncClient() as admin:
        token_calls = (await admin.get(f"{sandbox}/_sandbox/tokens")).json()["token_calls"]
    with pytest.raises(ReconnectRequired, match="reconnect to continue"):  # answered locally, QBO is not asked again
        await service.credentials(member.business_id).access_token()
    async with httpx.AsyncClient() as admin:
        assert (await admin.get(f"{sandbox}/_sandbox/tokens")).json()["token_calls"] == token_calls
    await connect(service, member)  # reconnecting restores it
    assert (await service.status(member.business_id)).status == "connected"


async def test_concurrent_refreshes_in_one_process_call_qbo_once(
    service: ConnectionService, database: Database, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)
    rejected = await service.credentials(member.business_id).access_token()
    before = await refresh_calls(sandbox, realm_id)

    tokens = await asyncio.gather(
        *(service.credentials(member.business_id).refresh_after_unauthorized(rejected) for _ in range(PROCESSES))
    )
    assert len(set(tokens)) == 1
    assert rejected not in tokens
    assert await refresh_calls(sandbox, realm_id) == before + 1


@pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_REDIS_URL), reason="processes share state through PostgreSQL and Redis"
)
async def test_processes_refreshing_together_call_qbo_once(
    service: ConnectionService, database: Database, database_url: str, transport: HttpTransport, sandbox: str
) -> None:
    member = await new_member(database)
    realm_id = await connect(service, member)
    rejected = await service.credentials(member.business_id).access_token()
    before = await refresh_calls(sandbox, realm_id)
    lock_prefix = f"oodaloo-test:{uuid.uuid4().hex}:"
    args = [database_url, str(TEST_REDIS_URL), lock_prefix, sandbox, str(member.business_id)]
    # Secrets (the encryption key, the rejected token) go over stdin: command lines are visible to other users.
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.domains.qbo.test_auth",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    try:
        async with asyncio.timeout(60):
            for process in processes:  # every process is set up and waiting ...
                assert process.stdin is not None
                assert process.stdout is not None
                process.stdin.write(f"{KEY}\n{rejected}\n".encode())
                await process.stdin.drain()
                assert (await process.stdout.readline()).strip() == b"ready"
            for process in processes:  # ... then all go at once
                assert process.stdin is not None
                process.stdin.write(b"go\n")
                await process.stdin.drain()
            results = [(await process.communicate())[0].decode().strip() for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert [process.returncode for process in processes] == [0] * PROCESSES
    assert len(set(results)) == 1
    assert await refresh_calls(sandbox, realm_id) == before + 1
    fresh = await service.credentials(member.business_id).access_token()
    assert hashlib.sha256(fresh.encode()).hexdigest() == results[0]
    assert await qbo_status(transport, sandbox, realm_id, fresh) == 200


def _not_none(value: bytes | None) -> bytes:
    assert value is not None
    return value


async def _refresh_in_this_process(
    database_url: str, redis_url: str, lock_prefix: str, sandbox: str, business_id: str
) -> None:
    """One process of the multi-process test: set up, say ready, wait for go, refresh; print the token's digest."""
    configure_logging("WARNING", "console")  # stdout carries the answer
    key, rejected = sys.stdin.readline().strip(), sys.stdin.readline().strip()
    database, transport = Database(database_url), HttpTransport()
    locks = make_locks(redis_url, key_prefix=lock_prefix)
    try:
        service = build_service(database, transport, sandbox, keys=[key], locks=locks)
        credentials = service.credentials(uuid.UUID(business_id))
        await database.ping()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        token = await credentials.refresh_after_unauthorized(rejected)
        print(hashlib.sha256(token.encode()).hexdigest(), flush=True)
    finally:
        await locks.aclose()
        await transport.aclose()
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(_refresh_in_this_process(*sys.argv[1:6]))
