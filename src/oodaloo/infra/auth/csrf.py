"""CSRF protection for form posts: a signed token bound to a random per-browser value (double submit)."""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

CSRF_COOKIE = "oodaloo_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE_SECONDS = 12 * 3600


class CsrfSigner:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="oodaloo.csrf")

    @staticmethod
    def new_browser_value() -> str:
        return secrets.token_urlsafe(16)

    def token_for(self, browser_value: str) -> str:
        return self._serializer.dumps(browser_value)

    def is_valid(self, token: str | None, browser_value: str | None) -> bool:
        """A form token is valid when it is ours, recent, and made for the cookie this browser holds."""
        if not token or not browser_value:
            return False
        try:
            signed_value = self._serializer.loads(token, max_age=CSRF_MAX_AGE_SECONDS)
        except BadSignature:
            return False
        return isinstance(signed_value, str) and hmac.compare_digest(signed_value, browser_value)
