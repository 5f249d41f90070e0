"""The tests' credentials, in one place: the secret key and password every test app and user get, reading the session
cookie the app sets, and tokens minted by the sandbox's admin path for tests that call a sandbox through SmartSync
without a QBO connection (the real Credentials are the QBO domain's, tested with the connection flow)."""

from __future__ import annotations

import httpx

TEST_SECRET_KEY = "test-only-secret-key-0123456789abcdef"
TEST_PASSWORD = "correct horse battery"
SESSION_COOKIE = "oodaloo_session"

# httpx's own default: the sandbox answers its admin path at once unless it is under load.
DEFAULT_TIMEOUT_SECONDS = 5.0


def session_cookie_of(response: httpx.Response) -> str:
    """The session token the app set in ``response``."""
    # The cookie is Secure outside development, so httpx's jar would not send it back over plain http; tests carry it
    # by hand, as a browser on https would.
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == SESSION_COOKIE:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no session cookie in the response: {response.status_code} {response.text[:200]}")


class MintedCredentials:
    """One token minted on first use; a refresh after a 401 mints another (``refreshes`` counts them)."""

    def __init__(self, sandbox_url: str, realm_id: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._sandbox_url = sandbox_url
        self._realm_id = realm_id
        self._timeout_seconds = timeout_seconds
        self._token: str | None = None
        self.refreshes = 0

    async def access_token(self) -> str:
        if self._token is None:
            self._token = await self._mint()
        return self._token

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        self.refreshes += 1
        self._token = await self._mint()
        return self._token

    async def _mint(self) -> str:
        async with httpx.AsyncClient(base_url=self._sandbox_url, timeout=self._timeout_seconds) as admin:
            response = await admin.post("/_sandbox/tokens", json={"realm_id": self._realm_id})
            response.raise_for_status()
            token: str = response.json()["access_token"]
            return token
