"""Start-up configuration of the sandbox, with the documented defaults of ``oodaloo sandbox``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# "empty": a company with its chart of accounts and settings but no names or transactions, to load through the API.
Scenario = Literal["healthy", "tight", "crisis", "empty"]

DEFAULT_REALM_ID = "9130357012345678"
DEFAULT_CLIENT_ID = "oodaloo-sandbox-client"
DEFAULT_CLIENT_SECRET = "oodaloo-sandbox-secret"
DEFAULT_VERIFIER_TOKEN = "oodaloo-sandbox-verifier"


@dataclass
class LimitsConfig:
    """QBO's throttles. Requests refused with 429 do not consume the budget.

    ``per_minute`` and ``realm_batch_per_minute`` are per realm; ``per_second``, ``concurrent`` and
    ``batch_per_minute`` per realm and app. A batch counts as one request, not one per item.
    """

    per_minute: int = 500
    per_second: int = 10
    concurrent: int = 10
    batch_per_minute: int = 40
    realm_batch_per_minute: int = 120
    max_batch_items: int = 30
    enabled: bool = True


@dataclass
class FaultConfig:
    """Injected latency and failures; ``error_rate`` is the chance a /v3 request fails.

    ``kinds`` weights the failure kinds: ``500``, ``502``, ``503``, ``timeout`` (the request hangs
    for ``timeout_seconds`` and then gets 504), ``lost_response`` (the write commits, the response
    is replaced by a 502), ``timeout_after_commit`` (the write commits, then the request hangs for
    ``timeout_seconds`` before a 504) and ``revoke_token`` (the caller's tokens are revoked, then 401).
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    kinds: dict[str, float] = field(default_factory=lambda: {"500": 1.0, "502": 1.0, "503": 1.0})
    timeout_seconds: float = 30.0
    seed: int = 0


@dataclass
class OAuthConfig:
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    # Loopback redirect URIs (any port/path) are accepted in addition to these.
    redirect_uris: list[str] = field(default_factory=list)
    allow_loopback_redirects: bool = True
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_seconds: int = 100 * 24 * 3600
    # A refresh issues a new refresh token when the current one is older than this (0 = always).
    refresh_rotation_seconds: int = 24 * 3600
    # How long a superseded refresh token keeps working (0 = invalid at once).
    old_refresh_grace_seconds: int = 0
    auth_code_ttl_seconds: int = 600


@dataclass
class SandboxConfig:
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    scenario: Scenario = "healthy"
    # Number of transactions in the demo realm's history; ``None`` = the natural 12-18 months.
    size: int | None = None
    seed: int = 42
    realm_id: str = DEFAULT_REALM_ID
    timezone: str = "America/Los_Angeles"
    state_file: Path | None = None
    verifier_token: str = DEFAULT_VERIFIER_TOKEN
    webhook_urls: list[str] = field(default_factory=list)
    # What a repeated requestid with a different body gets: "replay" (QBO's documented
    # behaviour: the original response) or "fault" (code 600, duplicate request).
    requestid_mismatch: Literal["replay", "fault"] = "replay"
    cdc_lookback_days: int = 30
    cdc_max_objects: int = 1000
