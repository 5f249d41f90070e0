"""The sandbox's Intuit-style OAuth 2.0 / OpenID server: discovery, authorize, token, revoke, userinfo, JWKS.

``TokenRegistry`` holds every code and token in memory; ``oauth_routes`` exposes it over HTTP.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .config import OAuthConfig

Clock = Callable[[], float]
TokenCheck = Literal["ok", "expired", "invalid", "wrong_realm"]

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
PAYMENT_SCOPE = "com.intuit.quickbooks.payment"
OPENID_SCOPES = frozenset({"openid", "profile", "email", "phone", "address"})
KNOWN_SCOPES = OPENID_SCOPES | {ACCOUNTING_SCOPE, PAYMENT_SCOPE}
# Intuit's announced five-year hard cap on any refresh token.
REFRESH_HARD_CAP_SECONDS = 5 * 365 * 24 * 3600
ID_TOKEN_TTL_SECONDS = 3600
# Issuer of id_tokens minted outside an HTTP request; over HTTP the issuer is this server's own URL.
INTUIT_ISSUER = "https://oauth.platform.intuit.com/op/v1"

ISSUER_PATH = "/op/v1"
JWKS_PATH = "/op/v1/jwks"
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
DISCOVERY_PATHS = (
    "/.well-known/openid_configuration",
    "/.well-known/openid_sandbox_configuration",
    "/.well-known/openid-configuration",
    "/.well-known/openid-sandbox-configuration",
)


class RealmDirectory(Protocol):
    """The part of the sandbox store that OAuth and the admin paths need."""

    @property
    def default_realm_id(self) -> str: ...

    def realm(self, realm_id: str) -> object | None: ...

    def realm_ids(self) -> Iterable[str]: ...


class OAuthError(Exception):
    """An RFC 6749 error answered as ``{"error": ..., "error_description": ...}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def _digest(token: str) -> str:
    # Tokens are looked up by digest so the registry never keys anything on the secret itself.
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(40)


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    realm_id: str
    scopes: frozenset[str]
    expires_at: float
    used: bool = False
    grant: _Grant | None = None


@dataclass
class _Grant:
    """One consent: a chain of refresh tokens (the latest is ``refresh_token``) and the access tokens minted from it."""

    realm_id: str
    client_id: str
    scopes: frozenset[str]
    refresh_token: str
    refresh_issued_at: float
    refresh_expires_at: float
    hard_expires_at: float
    superseded: dict[str, float] = field(default_factory=dict)  # digest -> when it stopped being current
    access_digests: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class _AccessToken:
    grant: _Grant
    expires_at: float


class _SigningKey:
    """An RSA key for id_tokens; its public half is served at ``jwks_uri``."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex

    def jwk(self) -> dict[str, str]:
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = f"{_b64url(_compact_json(header))}.{_b64url(_compact_json(claims))}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


@functools.cache
def _process_signing_key() -> _SigningKey:
    # One key per process: generating RSA keys is slow, and sandboxes started by tests are many.
    return _SigningKey()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class TokenRegistry:
    """Authorization codes, grants and tokens of one sandbox, with an injectable clock.

    A grant is one realm+client connection consented once; it owns a rotating chain of refresh
    tokens and the access tokens minted from them. Revoking a connection revokes all its grants.
    """

    def __init__(self, config: OAuthConfig, *, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self.signing_key = _process_signing_key()
        self._lock = threading.Lock()
        self._codes: dict[str, _AuthCode] = {}
        self._grants: list[_Grant] = []
        self._refresh_index: dict[str, _Grant] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh_calls: dict[str, int] = {}
        self._token_calls = 0

    # --- counters -----------------------------------------------------------------------------

    @property
    def token_calls(self) -> int:
        """Requests answered by the token endpoint (any grant type, success or not)."""
        return self._token_calls

    def refresh_calls(self, realm_id: str) -> int:
        """Successful ``refresh_token`` grants for this realm."""
        return self._refresh_calls.get(realm_id, 0)

    def count_token_call(self) -> None:
        with self._lock:
            self._token_calls += 1

    # --- client and redirect checks -------------------------------------------------------------

    def client_is_valid(self, client_id: str, client_secret: str) -> bool:
        id_ok = hmac.compare_digest(client_id.encode(), self.config.client_id.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self.config.client_secret.encode())
        return id_ok and secret_ok

    def redirect_uri_is_allowed(self, redirect_uri: str) -> bool:
        if redirect_uri in self.config.redirect_uris:
            return True
        return self.config.allow_loopback_redirects and _is_loopback_uri(redirect_uri)

    # --- authorization codes ------------------------------------------------------------------

    def issue_code(self, *, client_id: str, redirect_uri: str, realm_id: str, scopes: frozenset[str]) -> str:
        code = _new_token("AB11")
        expires_at = self.clock() + self.config.auth_code_ttl_seconds
        with self._lock:
            self._purge_expired_codes()
            self._codes[_digest(code)] = _AuthCode(client_id, redirect_uri, realm_id, scopes, expires_at)
        return code

    def exchange_code(
        self,
        *,
        code: str,
        client_id: str,
        redirect_uri: str,
        issuer: str = INTUIT_ISSUER,
        include_hard_expiry: bool = False,
    ) -> dict[str, Any]:
        with self._lock:
            record = self._codes.get(_digest(code))
            if record is None or record.client_id != client_id:
                raise OAuthError(400, "invalid_grant", "Authorization code is invalid")
            if record.used:
                # RFC 6749 §4.1.2: a replayed code revokes what it produced.
                if record.grant is not None:
                    record.grant.revoked = True
                raise OAuthError(400, "invalid_grant", "Authorization code has already been used")
            if self.clock() >= record.expires_at:
                raise OAuthError(400, "invalid_grant", "Authorization code has expired")
            if record.redirect_uri != redirect_uri:
                raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization request")
            record.used = True
            grant = self._new_grant(record.realm_id, client_id, record.scopes)
            record.grant = grant
            return self._token_response(grant, issuer, include_hard_expiry=include_hard_expiry)

    def _purge_expired_codes(self) -> None:
        now = self.clock()
        stale = [key for key, rec in self._codes.items() if now >= rec.expires_at + self.config.auth_code_ttl_seconds]
        for key in stale:
            del self._codes[key]

    # --- grants and tokens --------------------------------------------------------------------

    def mint(
        self,
        realm_id: str,
        scopes: Iterable[str] = (ACCOUNTING_SCOPE,),
        *,
        client_id: str | None = None,
        issuer: str = INTUIT_ISSUER,
        include_hard_expiry: bool = False,
    ) -> dict[str, Any]:
        """A fresh grant for ``realm_id`` without the browser dance; returns the token response."""
        with self._lock:
            grant = self._new_grant(realm_id, client_id or self.config.client_id, frozenset(scopes))
            return self._token_response(grant, issuer, include_hard_expiry=include_hard_expiry)

    def refresh(
        self, *, refresh_token: str, client_id: str, issuer: str = INTUIT_ISSUER, include_hard_expiry: bool = False
    ) -> dict[str, Any]:
        with self._lock:
            grant = self._live_grant_for_refresh(refresh_token, client_id)
            now = self.clock()
            is_current = hmac.compare_digest(grant.refresh_token, refresh_token)
            age = now - grant.refresh_issued_at
            if is_current and age >= self.config.refresh_rotation_seconds:
                self._rotate_refresh_token(grant, now)
            # Intuit's refresh tokens are rolling: each successful refresh restarts the idle clock.
            grant.refresh_expires_at = min(now + self.config.refresh_token_ttl_seconds, grant.hard_expires_at)
            self._refresh_calls[grant.realm_id] = self._refresh_calls.get(grant.realm_id, 0) + 1
            return self._token_response(grant, issuer, include_hard_expiry=include_hard_expiry)

    def check(self, access_token: str, realm_id: str) -> TokenCheck:
        """Whether ``access_token`` may call the data API of ``realm_id``.

        ``wrong_realm`` also covers a valid token whose grant lacks the accounting scope (QBO answers
        both with 403 ApplicationAuthorizationFailed).
        """
        with self._lock:
            record = self._access.get(_digest(access_token))
            if record is None or record.grant.revoked:
                return "invalid"
            if self.clock() >= record.expires_at:
                return "expired"
            if record.grant.realm_id != realm_id or ACCOUNTING_SCOPE not in record.grant.scopes:
                return "wrong_realm"
            return "ok"

    def userinfo_subject(self, access_token: str) -> _Grant | None:
        """The grant behind a live access token, or ``None``."""
        with self._lock:
            record = self._access.get(_digest(access_token))
            if record is None or record.grant.revoked or self.clock() >= record.expires_at:
                return None
            return record.grant

    def revoke_token(self, token: str, client_id: str) -> bool:
        """Revoke the connection (realm + client) that ``token`` (refresh or access) belongs to."""
        with self._lock:
            digest = _digest(token)
            grant = self._refresh_index.get(digest)
            if grant is None and digest in self._access:
                grant = self._access[digest].grant
            if grant is None or grant.client_id != client_id:
                return False
            self._revoke_where(lambda g: g.realm_id == grant.realm_id and g.client_id == grant.client_id)
            return True

    def revoke_realm(self, realm_id: str) -> None:
        """Disconnect every client from ``realm_id``: all its tokens stop working."""
        with self._lock:
            self._revoke_where(lambda g: g.realm_id == realm_id)

    def expire_access_tokens(self, realm_id: str) -> int:
        """Make the realm's current access tokens expired (refresh tokens keep working); returns how many."""
        with self._lock:
            expired_at = self.clock()
            count = 0
            for record in self._access.values():
                if record.grant.realm_id == realm_id and record.expires_at > expired_at:
                    record.expires_at = expired_at
                    count += 1
            return count

    def connections(self) -> list[dict[str, Any]]:
        """Live grants, without any token material (for the admin paths)."""
        with self._lock:
            now = self.clock()
            return [
                {
                    "realm_id": g.realm_id,
                    "client_id": g.client_id,
                    "scopes": sorted(g.scopes),
                    "refresh_expires_in": int(g.refresh_expires_at - now),
                }
                for g in self._grants
                if not g.revoked and now < g.refresh_expires_at
            ]

    # --- internals (call with the lock held) ---------------------------------------------------

    def _new_grant(self, realm_id: str, client_id: str, scopes: frozenset[str]) -> _Grant:
        now = self.clock()
        hard_expires_at = now + REFRESH_HARD_CAP_SECONDS
        grant = _Grant(
            realm_id=realm_id,
            client_id=client_id,
            scopes=scopes,
            refresh_token=_new_token("RT1-"),
            refresh_issued_at=now,
            refresh_expires_at=min(now + self.config.refresh_token_ttl_seconds, hard_expires_at),
            hard_expires_at=hard_expires_at,
        )
        self._grants.append(grant)
        self._refresh_index[_digest(grant.refresh_token)] = grant
        return grant

    def _live_grant_for_refresh(self, refresh_token: str, client_id: str) -> _Grant:
        digest = _digest(refresh_token)
        grant = self._refresh_index.get(digest)
        if grant is None or grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "Incorrect or invalid refresh token")
        if grant.revoked:
            raise OAuthError(400, "invalid_grant", "Token invalid")
        now = self.clock()
        if now >= grant.refresh_expires_at:
            raise OAuthError(400, "invalid_grant", "Refresh token has expired")
        superseded_at = grant.superseded.get(digest)
        if superseded_at is not None and now >= superseded_at + self.config.old_refresh_grace_seconds:
            raise OAuthError(400, "invalid_grant", "Refresh token not found")
        return grant

    def _rotate_refresh_token(self, grant: _Grant, now: float) -> None:
        grant.superseded[_digest(grant.refresh_token)] = now
        grant.refresh_token = _new_token("RT1-")
        grant.refresh_issued_at = now
        self._refresh_index[_digest(grant.refresh_token)] = grant

    def _token_response(self, grant: _Grant, issuer: str, *, include_hard_expiry: bool) -> dict[str, Any]:
        now = self.clock()
        access_token = _new_token("eyJ")
        expires_in = self.config.access_token_ttl_seconds
        digest = _digest(access_token)
        self._access[digest] = _AccessToken(grant, now + expires_in)
        grant.access_digests.add(digest)
        self._purge_expired_access(grant, now)
        body: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": access_token,
            "expires_in": expires_in,
            "refresh_token": grant.refresh_token,
            "x_refresh_token_expires_in": max(0, int(grant.refresh_expires_at - now)),
        }
        if include_hard_expiry:
            body["x_refresh_token_hard_expires_in"] = max(0, int(grant.hard_expires_at - now))
        if "openid" in grant.scopes:
            body["id_token"] = self._id_token(grant, issuer, now)
        return body

    def _purge_expired_access(self, grant: _Grant, now: float) -> None:
        # Keep a day of expired tokens so a late caller still gets "expired", not "invalid".
        stale = [d for d in grant.access_digests if now >= self._access[d].expires_at + 24 * 3600]
        for digest in stale:
            grant.access_digests.discard(digest)
            del self._access[digest]

    def _id_token(self, grant: _Grant, issuer: str, now: float) -> str:
        claims = {
            "iss": issuer,
            "sub": subject_id(grant.realm_id),
            "aud": [grant.client_id],
            "realmid": grant.realm_id,
            "auth_time": int(now),
            "iat": int(now),
            "exp": int(now) + ID_TOKEN_TTL_SECONDS,
        }
        return self.signing_key.sign_jwt(claims)

    def _revoke_where(self, predicate: Callable[[_Grant], bool]) -> None:
        for grant in self._grants:
            if predicate(grant):
                grant.revoked = True


def subject_id(realm_id: str) -> str:
    """A stable, UUID-shaped user id for the sandbox's single user of a realm."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"oodaloo-sandbox-user:{realm_id}"))


def _is_loopback_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


# --- HTTP layer -------------------------------------------------------------------------------


def intuit_tid() -> str:
    """The transaction id form Intuit's OAuth responses carry: ``1-<8 hex>-<24 hex>``."""
    return f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    all_headers = {"intuit_tid": intuit_tid(), "Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=all_headers)


def _oauth_error(exc: OAuthError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="oauth"'} if exc.status == 401 else None
    return _json({"error": exc.error, "error_description": exc.description}, exc.status, headers)


def _error_page(message: str) -> HTMLResponse:
    html = (
        "<!doctype html><html><head><title>Authorization error</title></head>"
        f"<body><h1>Authorization error</h1><p>{_escape(message)}</p></body></html>"
    )
    return HTMLResponse(html, status_code=400, headers={"intuit_tid": intuit_tid()})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def server_base(request: Request) -> str:
    """This server's absolute URL including any mount prefix (``root_path``), without a trailing slash."""
    root_path = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{root_path}"


def discovery_document(request: Request, tokens: TokenRegistry) -> dict[str, Any]:
    base = server_base(request)
    return {
        "issuer": base + ISSUER_PATH,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "userinfo_endpoint": base + USERINFO_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "jwks_uri": base + JWKS_PATH,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": sorted(OPENID_SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


def _redirect(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    location = redirect_uri + separator + urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(location, status_code=302, headers={"intuit_tid": intuit_tid()})


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    """Client id and secret from HTTP Basic or, failing that, the ``client_id``/``client_secret`` form fields."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:
            return None
        client_id, sep, secret = decoded.partition(":")
        return (client_id, secret) if sep else None
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "application/x-www-form-urlencoded").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    raw = (await request.body()).decode("utf-8", errors="replace")
    parsed = parse_qs(raw, keep_blank_values=True)
    if any(len(values) > 1 for values in parsed.values()):
        raise OAuthError(400, "invalid_request", "Repeated parameters are not allowed")
    return {key: values[0] for key, values in parsed.items()}


def _require(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise OAuthError(400, "invalid_request", f"Missing parameter: {name}")
    return value


def oauth_routes(tokens: TokenRegistry, store: RealmDirectory) -> list[BaseRoute]:
    """Routes for discovery, authorize, token, revoke, userinfo and JWKS, at Intuit's paths."""

    async def discovery(request: Request) -> Response:
        return JSONResponse(discovery_document(request, tokens), headers={"intuit_tid": intuit_tid()})

    async def jwks(_request: Request) -> Response:
        return JSONResponse({"keys": [tokens.signing_key.jwk()]}, headers={"intuit_tid": intuit_tid()})

    async def authorize(request: Request) -> Response:
        params = request.query_params
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if client_id != tokens.config.client_id:
            return _error_page("Unknown client_id.")
        if not redirect_uri or not tokens.redirect_uri_is_allowed(redirect_uri):
            return _error_page("The redirect_uri is not registered for this app.")
        state = params.get("state", "")
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
        scopes = frozenset(params.get("scope", "").split())
        if not scopes <= KNOWN_SCOPES or not ({ACCOUNTING_SCOPE, "openid"} & scopes):
            return _redirect(redirect_uri, {"error": "invalid_scope", "state": state})
        realm_id = params.get("realmId") or params.get("realm_id") or store.default_realm_id
        if store.realm(realm_id) is None:
            return _redirect(redirect_uri, {"error": "access_denied", "state": state})
        code = tokens.issue_code(client_id=client_id, redirect_uri=redirect_uri, realm_id=realm_id, scopes=scopes)
        # realmId accompanies the code only for QuickBooks scopes, as at Intuit.
        shown_realm = realm_id if {ACCOUNTING_SCOPE, PAYMENT_SCOPE} & scopes else ""
        return _redirect(redirect_uri, {"code": code, "state": state, "realmId": shown_realm})

    async def token(request: Request) -> Response:
        tokens.count_token_call()
        try:
            return _json(await _token_grant(request))
        except OAuthError as exc:
            return _oauth_error(exc)

    async def _token_grant(request: Request) -> dict[str, Any]:
        form = await _read_form(request)
        credentials = _client_credentials(request, form)
        if credentials is None or not tokens.client_is_valid(*credentials):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        client_id = credentials[0]
        issuer = server_base(request) + ISSUER_PATH
        include_hard = request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true"
        grant_type = _require(form, "grant_type")
        if grant_type == "authorization_code":
            code, redirect_uri = _require(form, "code"), _require(form, "redirect_uri")
            return tokens.exchange_code(
                code=code,
                client_id=client_id,
                redirect_uri=redirect_uri,
                issuer=issuer,
                include_hard_expiry=include_hard,
            )
        if grant_type == "refresh_token":
            refresh_token = _require(form, "refresh_token")
            return tokens.refresh(
                refresh_token=refresh_token, client_id=client_id, issuer=issuer, include_hard_expiry=include_hard
            )
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type}")

    async def revoke(request: Request) -> Response:
        try:
            credentials = _client_credentials(request, {})
            if credentials is None or not tokens.client_is_valid(*credentials):
                raise OAuthError(401, "invalid_client", "Client authentication failed")
            token_value = await _revocation_token(request)
        except OAuthError as exc:
            return _oauth_error(exc)
        # RFC 7009: an unknown token is not an error; the caller's goal (it no longer works) is met.
        tokens.revoke_token(token_value, credentials[0])
        return _json({})

    async def userinfo(request: Request) -> Response:
        scheme, _, access_token = request.headers.get("authorization", "").partition(" ")
        grant = tokens.userinfo_subject(access_token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            return _json({"error": "invalid_token"}, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if "openid" not in grant.scopes:
            return _json(
                {"error": "insufficient_scope"}, 403, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
            )
        return _json(_user_claims(grant))

    return [
        *(Route(path, discovery, methods=["GET"]) for path in DISCOVERY_PATHS),
        *(Route(path + "/", discovery, methods=["GET"]) for path in DISCOVERY_PATHS),
        Route(JWKS_PATH, jwks, methods=["GET"]),
        Route(AUTHORIZE_PATH, authorize, methods=["GET"]),
        Route(AUTHORIZE_PATH + "/companyselection", authorize, methods=["GET"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(REVOKE_PATH, revoke, methods=["POST"]),
        Route(USERINFO_PATH, userinfo, methods=["GET"]),
    ]


async def _revocation_token(request: Request) -> str:
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/x-www-form-urlencoded":
        values = parse_qs(raw.decode("utf-8", errors="replace")).get("token", [""])
        token_value: object = values[0]
    else:
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            raise OAuthError(400, "invalid_request", 'Body must be JSON: {"token": ...}') from None
        token_value = payload.get("token") if isinstance(payload, dict) else None
    if not isinstance(token_value, str) or not token_value:
        raise OAuthError(400, "invalid_request", "Missing parameter: token")
    return token_value


def _user_claims(grant: _Grant) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": subject_id(grant.realm_id)}
    if "email" in grant.scopes:
        claims |= {"email": f"owner+{grant.realm_id}@sandbox.oodaloo.test", "emailVerified": True}
    if "profile" in grant.scopes:
        claims |= {"givenName": "Sandbox", "familyName": "Owner"}
    if "phone" in grant.scopes:
        claims |= {"phoneNumber": "+1 (555) 010-0199", "phoneNumberVerified": False}
    if "address" in grant.scopes:
        claims["address"] = {
            "streetAddress": "100 Market St",
            "locality": "San Francisco",
            "region": "CA",
            "postalCode": "94105",
            "country": "US",
        }
    return claims
