"""Connecting a business to QBO (OAuth connect, callback, disconnect) and the credentials SmartSync calls QBO with.

The first connection of a business also names it after its QBO company (``CompanyInfo.CompanyName``, read through
SmartSync like every QBO call); a later reconnect leaves the name as it is, since someone may have chosen it.

Each flow here is its own boundary: it opens short units of work around the calls to Intuit, so no database
transaction stays open while we wait on the network, except where atomicity demands it (storing a rotated token pair).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.errors import BusinessNotFound
from oodaloo.domains.core.repository import BusinessRepository
from oodaloo.domains.core.service import AccountService, BusinessService
from oodaloo.domains.qbo.client import QBOClient
from oodaloo.domains.qbo.errors import QBOError
from oodaloo.domains.qbo.models import ConnectionStatus, QBOConnection
from oodaloo.domains.qbo.repository import AllConnections, QBOConnectionRepository
from oodaloo.infra.crypto import DecryptionFailed, TokenCipher
from oodaloo.infra.db.base import utcnow
from oodaloo.infra.db.session import unit_of_work
from oodaloo.infra.http import HttpTransport
from oodaloo.infra.jobs.models import Activity
from oodaloo.infra.jobs.smart_sync import NotConnected, Priority, QBOUnavailable, ReconnectRequired, SmartSyncService
from oodaloo.infra.locks import LockFactory, make_locks
from oodaloo.infra.logging import get_logger
from oodaloo.infra.oauth import OAuthClient, OAuthError, OAuthGrantRejected, TokenSet
from oodaloo.infra.web.errors import AppError, Conflict, PermissionDenied

logger = get_logger("oodaloo.qbo.auth")

QBO_SCOPES = ("com.intuit.quickbooks.accounting",)
STATE_MAX_AGE_SECONDS = 600
_STATE_SALT = "oodaloo.qbo.connect-state"
# Refresh this long before QBO's expiry, so a token never expires between our check and QBO's.
REFRESH_MARGIN = timedelta(minutes=5)
# The refresh lock outlives a crashed holder by this much; it must exceed a refresh (OAuth timeout 15 s + two writes).
REFRESH_LOCK_LEASE_SECONDS = 60.0
REFRESH_LOCK_WAIT_SECONDS = 30.0
RECONNECT_MESSAGE = "QuickBooks no longer accepts this connection; reconnect to continue"
NOT_CONNECTED_MESSAGE = "QuickBooks is not connected for this business; connect it to continue"
DISCONNECTED_REASON = "Disconnected in Oodaloo"
# The person is waiting on the callback: reading the company's name may take this long, else the name stays as it is.
COMPANY_NAME_DEADLINE_SECONDS = 8.0

Clock = Callable[[], datetime]
StatusName = Literal["connected", "needs_reconnect", "disconnected", "not_connected"]


# --- errors the routes answer with -------------------------------------------------------------


class InvalidConnectState(AppError):
    code = "invalid_connect_state"
    message = "This QuickBooks connection link is invalid or has expired; start connecting again."


class ConnectDeclined(AppError):
    code = "connect_declined"

    def __init__(self, error: str) -> None:
        super().__init__(f"QuickBooks did not authorize the connection ({error}); start connecting again.")


class AuthorizationCodeRejected(AppError):
    code = "authorization_code_rejected"
    message = "QuickBooks refused the authorization (it expired or was already used); start connecting again."


class MissingRealm(AppError):
    code = "missing_realm"
    message = "QuickBooks did not say which company was connected; start connecting again."


class RealmMismatch(Conflict):
    code = "realm_mismatch"

    def __init__(self, linked_realm_id: str) -> None:
        super().__init__(
            f"This business is linked to QuickBooks company {linked_realm_id}; connect that company, "
            "or create another business for a different one."
        )


class QuickBooksSignInUnavailable(AppError):
    status_code = 502
    code = "qbo_sign_in_unavailable"
    message = "QuickBooks sign-in could not be reached or failed; try again in a moment."


# --- views ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionState:
    """What a member may see of a connection (never any token)."""

    business_id: uuid.UUID
    status: StatusName
    realm_id: str | None
    message: str | None
    scopes: tuple[str, ...]
    connected_at: datetime | None
    last_refreshed_at: datetime | None
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None

    @classmethod
    def of(cls, business_id: uuid.UUID, row: QBOConnection | None) -> ConnectionState:
        if row is None:
            return cls(business_id, "not_connected", None, NOT_CONNECTED_MESSAGE, (), None, None, None, None)
        return cls(
            business_id=business_id,
            status=row.status.value,
            realm_id=row.realm_id,
            message=row.status_reason,
            scopes=tuple(row.scopes.split()),
            connected_at=row.connected_at,
            last_refreshed_at=row.last_refreshed_at,
            access_token_expires_at=row.access_token_expires_at,
            refresh_token_expires_at=row.refresh_token_expires_at,
        )


@dataclass(frozen=True)
class Reencryption:
    """Businesses whose tokens were re-encrypted with the current key, and those no configured key opens."""

    rotated: tuple[uuid.UUID, ...]
    unreadable: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class _ConnectState:
    business_id: uuid.UUID
    user_id: uuid.UUID
    session_digest: str


@dataclass(frozen=True)
class _Stored:
    """What storing a connection found: whether it is the business's first, and the business's name then."""

    row: QBOConnection
    first: bool
    business_name: str


def _session_digest(session_token: str) -> str:
    return hashlib.sha256(session_token.encode()).hexdigest()


def _clocked_signer(clock: Clock) -> type[TimestampSigner]:
    """A signer that stamps and checks ``state`` ages by the service's clock rather than the system's."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockedSigner


def refresh_lock_name(realm_id: str) -> str:
    return f"qbo-token-refresh:{realm_id}"


# --- the connection flows -----------------------------------------------------------------------


class ConnectionService:
    """Connect (authorize URL → callback), disconnect, status, and the per-business ``ConnectionCredentials``."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        oauth: OAuthClient,
        cipher: TokenCipher,
        locks: LockFactory,
        sync: SmartSyncService,
        state_secret: str,
        redirect_uri: str,
        scopes: Sequence[str] = QBO_SCOPES,
        clock: Clock = utcnow,
        owns_locks: bool = False,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sync = sync
        self._oauth = oauth
        self._cipher = cipher
        self._locks = locks
        self._states = URLSafeTimedSerializer(state_secret, salt=_STATE_SALT, signer=_clocked_signer(clock))
        self._redirect_uri = redirect_uri
        self._scopes = tuple(scopes)
        self._clock = clock
        self._owns_locks = owns_locks

    @classmethod
    def create(
        cls,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: HttpTransport,
        sync: SmartSyncService,
        discovery_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        secret_key: str,
        encryption_keys: str | None,
        redis_url: str | None,
    ) -> ConnectionService:
        """Wired from settings: Redis locks when ``redis_url`` is set (closed by ``aclose``); the transport stays the
        caller's."""
        oauth = OAuthClient(transport, discovery_url=discovery_url, client_id=client_id, client_secret=client_secret)
        return cls(
            sessionmaker=sessionmaker,
            oauth=oauth,
            cipher=TokenCipher.from_config(encryption_keys, secret_key=secret_key),
            locks=make_locks(redis_url),
            sync=sync,
            state_secret=secret_key,
            redirect_uri=redirect_uri,
            owns_locks=True,
        )

    async def aclose(self) -> None:
        if self._owns_locks:
            await self._locks.aclose()

    async def start(self, business_id: uuid.UUID, user_id: uuid.UUID, session_token: str) -> str:
        """The URL to send the user to; its ``state`` binds the callback to this session, user and business."""
        state = self._states.dumps(
            {
                "business": str(business_id),
                "user": str(user_id),
                "session": _session_digest(session_token),
                # Makes each state unique, so one leaked link says nothing about the next.
                "nonce": secrets.token_urlsafe(12),
            }
        )
        try:
            return await self._oauth.authorization_url(
                redirect_uri=self._redirect_uri, scopes=self._scopes, state=state
            )
        except OAuthError as error:  # Intuit's discovery document, which names the consent page, did not answer
            logger.warning("qbo_connect_start_failed", business_id=str(business_id), reason=str(error))
            raise QuickBooksSignInUnavailable() from None

    async def complete(self, state: str, code: str, realm_id: str | None, session_token: str) -> ConnectionState:
        """The OAuth callback: check ``state``, exchange ``code``, store realm and tokens (encrypted)."""
        expected = self._verify_state(state, session_token)
        if not realm_id:
            raise MissingRealm()
        async with unit_of_work(self._sessionmaker) as session:
            await self._check_may_connect(session, expected, session_token, realm_id)
        try:
            tokens = await self._oauth.exchange_code(
                code, redirect_uri=self._redirect_uri, requested_scopes=self._scopes
            )
        except OAuthGrantRejected:
            raise AuthorizationCodeRejected() from None
        except OAuthError as error:
            logger.warning("qbo_code_exchange_failed", business_id=str(expected.business_id), reason=str(error))
            raise QuickBooksSignInUnavailable() from None
        async with unit_of_work(self._sessionmaker) as session:
            stored = await self._store_connection(session, expected, realm_id, tokens)
            state_view = ConnectionState.of(expected.business_id, stored.row)
        logger.info("qbo_connected", business_id=str(expected.business_id), realm_id=realm_id)
        if stored.first:
            await self._take_company_name(expected.business_id, realm_id, stored.business_name)
        return state_view

    async def disconnect(self, business_id: uuid.UUID, user_id: uuid.UUID) -> ConnectionState:
        """Revoke at QBO (best effort: the local erase happens even if QBO cannot be reached), erase the tokens."""
        async with unit_of_work(self._sessionmaker) as session:
            row = await QBOConnectionRepository(session, business_id).current()
            refresh_token = self._decrypt(row.refresh_token_encrypted) if row is not None else None
            if row is None or row.status is ConnectionStatus.DISCONNECTED:
                return ConnectionState.of(business_id, row)
        revoked = await self._revoke(business_id, refresh_token) if refresh_token else False
        async with unit_of_work(self._sessionmaker) as session:
            row = await QBOConnectionRepository(session, business_id).current(for_update=True)
            if row is None:
                return ConnectionState.of(business_id, None)
            _erase_tokens(row)
            row.status = ConnectionStatus.DISCONNECTED
            row.status_reason = DISCONNECTED_REASON
            await Activity.record(
                session,
                business_id=business_id,
                user_id=user_id,
                kind="qbo.disconnect",
                subject=f"QuickBooks company {row.realm_id}",
                detail={"realm_id": row.realm_id, "revoked_at_qbo": revoked},
            )
            view = ConnectionState.of(business_id, row)
        logger.info("qbo_disconnected", business_id=str(business_id), revoked_at_qbo=revoked)
        return view

    async def status(self, business_id: uuid.UUID) -> ConnectionState:
        async with unit_of_work(self._sessionmaker) as session:
            return ConnectionState.of(business_id, await QBOConnectionRepository(session, business_id).current())

    def credentials(self, business_id: uuid.UUID) -> ConnectionCredentials:
        return ConnectionCredentials(
            business_id,
            sessionmaker=self._sessionmaker,
            oauth=self._oauth,
            cipher=self._cipher,
            locks=self._locks,
            clock=self._clock,
        )

    async def reencrypt_tokens(self) -> Reencryption:
        """After a new key was prepended: re-encrypt every stored token with it.

        A row no configured key opens is left as it is and reported (a key was dropped too early), so one bad row
        does not stop the rotation of the others.
        """
        rotated: list[uuid.UUID] = []
        unreadable: list[uuid.UUID] = []
        async with unit_of_work(self._sessionmaker) as session:
            for row in await AllConnections(session).with_tokens():
                try:
                    access = self._cipher.rotate(row.access_token_encrypted) if row.access_token_encrypted else None
                    refresh = self._cipher.rotate(row.refresh_token_encrypted) if row.refresh_token_encrypted else None
                except DecryptionFailed:
                    unreadable.append(row.business_id)
                    continue
                row.access_token_encrypted, row.refresh_token_encrypted = access, refresh
                rotated.append(row.business_id)
            await session.flush()
        if unreadable:
            logger.error("qbo_tokens_unreadable", businesses=[str(business_id) for business_id in unreadable])
        return Reencryption(rotated=tuple(rotated), unreadable=tuple(unreadable))

    # --- internals ------------------------------------------------------------------------------

    def _verify_state(self, state: str, session_token: str) -> _ConnectState:
        try:
            payload = self._states.loads(state, max_age=STATE_MAX_AGE_SECONDS)
        except SignatureExpired:
            raise InvalidConnectState(
                "This QuickBooks connection link has expired (links last 10 minutes); start connecting again."
            ) from None
        except BadSignature:
            raise InvalidConnectState() from None
        try:
            parsed = _ConnectState(uuid.UUID(payload["business"]), uuid.UUID(payload["user"]), str(payload["session"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidConnectState() from None
        if not hmac.compare_digest(parsed.session_digest, _session_digest(session_token)):
            raise InvalidConnectState(
                "This QuickBooks connection was started in another sign-in session; start connecting again here."
            )
        return parsed

    async def _check_may_connect(
        self, session: AsyncSession, expected: _ConnectState, session_token: str, realm_id: str
    ) -> None:
        user = await AccountService(session).user_for_session(session_token)
        if user is None or user.id != expected.user_id:
            raise InvalidConnectState("Your sign-in session has ended; sign in and start connecting again.")
        reached = await BusinessService(session).access(expected.business_id, user)
        if reached is None:
            raise BusinessNotFound()
        if not reached.grant.allows(Capability.ACT):
            raise PermissionDenied(reached.grant.refusal(Capability.ACT))
        linked = reached.business.qbo_realm_id
        if linked is not None and linked != realm_id:
            raise RealmMismatch(linked)

    async def _store_connection(
        self, session: AsyncSession, expected: _ConnectState, realm_id: str, tokens: TokenSet
    ) -> _Stored:
        connections = QBOConnectionRepository(session, expected.business_id)
        row = await connections.current(for_update=True)
        first = row is None
        if row is None:
            row = QBOConnection(business_id=expected.business_id, realm_id=realm_id)
            session.add(row)
        now = self._clock()
        row.realm_id = realm_id
        row.status = ConnectionStatus.CONNECTED
        row.status_reason = None
        row.connected_by = expected.user_id
        row.connected_at = now
        row.last_refreshed_at = None
        _store_tokens(row, tokens, self._cipher)
        business = await BusinessRepository(session).get(expected.business_id)
        if business is None:
            raise BusinessNotFound()
        business.qbo_realm_id = realm_id
        await session.flush()
        await Activity.record(
            session,
            business_id=expected.business_id,
            user_id=expected.user_id,
            kind="qbo.connect",
            subject=f"QuickBooks company {realm_id}",
            detail={"realm_id": realm_id, "scopes": list(tokens.scopes)},
        )
        return _Stored(row, first, business.name)

    async def _take_company_name(self, business_id: uuid.UUID, realm_id: str, name_at_connect: str) -> None:
        """Name the business after its QBO company. Best effort: the connection is made either way, and the name can
        be edited; a name changed while QBO was asked is kept."""
        client = QBOClient(
            self._sync,
            self.credentials(business_id),
            realm_id,
            priority=Priority.USER,
            deadline=time.monotonic() + COMPANY_NAME_DEADLINE_SECONDS,
        )
        try:
            company_name = (await client.company_info()).company_name
        except (QBOError, QBOUnavailable, ReconnectRequired) as error:
            logger.warning("qbo_company_name_unread", business_id=str(business_id), reason=str(error))
            return
        if not company_name:
            return
        async with unit_of_work(self._sessionmaker) as session:
            renamed = await BusinessService(session).take_company_name(
                business_id, company_name, unless_renamed_from=name_at_connect
            )
        logger.info("qbo_company_named", business_id=str(business_id), taken=renamed)

    async def _revoke(self, business_id: uuid.UUID, refresh_token: str) -> bool:
        try:
            await self._oauth.revoke(refresh_token)
        except OAuthError as error:
            logger.warning("qbo_revoke_failed", business_id=str(business_id), reason=str(error))
            return False
        return True

    def _decrypt(self, ciphertext: bytes | None) -> str | None:
        return self._cipher.decrypt(ciphertext) if ciphertext is not None else None


def _store_tokens(row: QBOConnection, tokens: TokenSet, cipher: TokenCipher) -> None:
    row.access_token_encrypted = cipher.encrypt(tokens.access_token)
    row.refresh_token_encrypted = cipher.encrypt(tokens.refresh_token)
    row.access_token_expires_at = tokens.expires_at
    row.refresh_token_expires_at = tokens.refresh_expires_at
    row.scopes = " ".join(tokens.scopes)


def _erase_tokens(row: QBOConnection) -> None:
    row.access_token_encrypted = None
    row.refresh_token_encrypted = None
    row.access_token_expires_at = None
    row.refresh_token_expires_at = None


# --- credentials for SmartSync ------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    """The row as read, tokens decrypted (in memory only)."""

    realm_id: str
    status: ConnectionStatus
    status_reason: str | None
    access_token: str | None
    access_expires_at: datetime | None
    refresh_token: str | None
    scopes: tuple[str, ...]

    def require_connected(self) -> str:
        """The refresh token, or ``ReconnectRequired`` (``NotConnected`` when there is no connection) saying why."""
        if self.status is ConnectionStatus.NEEDS_RECONNECT:
            raise ReconnectRequired(self.status_reason or RECONNECT_MESSAGE)
        if self.status is not ConnectionStatus.CONNECTED or self.refresh_token is None:
            raise NotConnected(NOT_CONNECTED_MESSAGE)
        return self.refresh_token


class ConnectionCredentials:
    """SmartSync's ``Credentials`` for one business: the stored access token, refreshed single-flight per realm.

    Refreshes happen under a per-realm lock (Redis across processes, in-process in the embedded default). Whoever
    gets the lock re-reads the row first: if another process already replaced the token being refreshed, that one
    is used and QBO is not called. Otherwise the refresh token is spent once and the new pair — QBO may rotate the
    refresh token, and the old one then stops working — is committed in one transaction before the lock is released.
    """

    def __init__(
        self,
        business_id: uuid.UUID,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        oauth: OAuthClient,
        cipher: TokenCipher,
        locks: LockFactory,
        clock: Clock = utcnow,
    ) -> None:
        self.business_id = business_id
        self._sessionmaker = sessionmaker
        self._oauth = oauth
        self._cipher = cipher
        self._locks = locks
        self._clock = clock
        self._cached: tuple[str, datetime] | None = None

    async def access_token(self) -> str:
        if self._cached is not None and not self._expiring(self._cached[1]):
            return self._cached[0]
        snapshot = await self._read()
        snapshot.require_connected()
        if snapshot.access_token is not None and not self._expiring(snapshot.access_expires_at):
            return self._remember(snapshot.access_token, snapshot.access_expires_at)
        return await self._refresh(snapshot.realm_id, stale=snapshot.access_token)

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        self._cached = None
        snapshot = await self._read()
        snapshot.require_connected()
        return await self._refresh(snapshot.realm_id, stale=rejected)

    # --- internals ------------------------------------------------------------------------------

    async def _refresh(self, realm_id: str, *, stale: str | None) -> str:
        lock = refresh_lock_name(realm_id)
        async with self._locks.hold(
            lock, lease_seconds=REFRESH_LOCK_LEASE_SECONDS, wait_seconds=REFRESH_LOCK_WAIT_SECONDS
        ):
            snapshot = await self._read()
            refresh_token = snapshot.require_connected()
            current = snapshot.access_token
            if current is not None and current != stale and not self._expiring(snapshot.access_expires_at):
                return self._remember(current, snapshot.access_expires_at)  # refreshed by someone else meanwhile
            try:
                tokens = await self._oauth.refresh(refresh_token, scopes=snapshot.scopes)
            except OAuthGrantRejected:
                await self._mark_needs_reconnect(refresh_token)
                raise ReconnectRequired(RECONNECT_MESSAGE) from None
            await self._store(tokens)
        logger.info(
            "qbo_token_refreshed",
            business_id=str(self.business_id),
            realm_id=realm_id,
            refresh_token_rotated=tokens.refresh_token != refresh_token,
        )
        return self._remember(tokens.access_token, tokens.expires_at)

    async def _read(self) -> _Snapshot:
        async with unit_of_work(self._sessionmaker) as session:
            row = await QBOConnectionRepository(session, self.business_id).current()
            if row is None:
                raise NotConnected(NOT_CONNECTED_MESSAGE)
            return _Snapshot(
                realm_id=row.realm_id,
                status=row.status,
                status_reason=row.status_reason,
                access_token=self._decrypt(row.access_token_encrypted),
                access_expires_at=row.access_token_expires_at,
                refresh_token=self._decrypt(row.refresh_token_encrypted),
                scopes=tuple(row.scopes.split()),
            )

    async def _store(self, tokens: TokenSet) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            row = await QBOConnectionRepository(session, self.business_id).current(for_update=True)
            if row is None or row.status is not ConnectionStatus.CONNECTED:
                # Disconnected while we refreshed: keep it that way rather than resurrect its tokens.
                raise NotConnected(NOT_CONNECTED_MESSAGE)
            _store_tokens(row, tokens, self._cipher)
            row.last_refreshed_at = self._clock()

    async def _mark_needs_reconnect(self, rejected_refresh_token: str) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            row = await QBOConnectionRepository(session, self.business_id).current(for_update=True)
            if row is None or row.status is not ConnectionStatus.CONNECTED:
                return
            if self._decrypt(row.refresh_token_encrypted) != rejected_refresh_token:
                return  # reconnected meanwhile: the new tokens are not the rejected ones
            _erase_tokens(row)
            row.status = ConnectionStatus.NEEDS_RECONNECT
            row.status_reason = RECONNECT_MESSAGE
            await Activity.record(
                session,
                business_id=self.business_id,
                user_id=None,
                kind="qbo.needs_reconnect",
                subject=f"QuickBooks company {row.realm_id}",
                detail={"realm_id": row.realm_id, "reason": "refresh token rejected"},
            )
        logger.warning("qbo_needs_reconnect", business_id=str(self.business_id))

    def _expiring(self, expires_at: datetime | None) -> bool:
        return expires_at is None or expires_at - self._clock() <= REFRESH_MARGIN

    def _remember(self, token: str, expires_at: datetime | None) -> str:
        self._cached = (token, expires_at) if expires_at is not None else None
        return token

    def _decrypt(self, ciphertext: bytes | None) -> str | None:
        return self._cipher.decrypt(ciphertext) if ciphertext is not None else None
