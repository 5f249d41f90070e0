"""Opaque secrets (session and API tokens) that are shown once and stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

API_TOKEN_PREFIX = "oodaloo_"
# The visible part kept in clear (e.g. "oodaloo_AbC123") so a user can tell tokens apart.
VISIBLE_PREFIX_LENGTH = len(API_TOKEN_PREFIX) + 6


def digest(secret: str) -> str:
    """Tokens carry 256 random bits, so a fast unsalted hash is enough (no brute force possible)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def digests_match(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedApiToken:
    secret: str  # shown to the user once, never stored
    prefix: str
    digest: str


def new_api_token() -> IssuedApiToken:
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return IssuedApiToken(secret=secret, prefix=secret[:VISIBLE_PREFIX_LENGTH], digest=digest(secret))


def looks_like_api_token(value: str) -> bool:
    return value.startswith(API_TOKEN_PREFIX)
