"""Application settings from ``OODALOO_*`` environment variables; with none set, the embedded default."""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from typing import Any, Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
MIN_SECRET_KEY_LENGTH = 32
# Fragments that betray a placeholder someone forgot to replace.
PLACEHOLDER_FRAGMENTS = ("change-me", "changeme", "insecure", "placeholder", "secret-key", "example", "password")
# The least a production secret key must score on ``estimated_entropy_bits`` (its length times the Shannon entropy
# of its character frequencies). The estimate sees how many characters a key uses and how evenly, not their order,
# and it undercounts a short random key: the weakest key a generator gives that we accept, 32 hex digits
# (``secrets.token_hex(16)``, 128 random bits), scores 116 on average and never fell below 90 in 200,000 draws,
# so the bar sits at 80, clear of that. A key of one repeated character scores 0, and no 32-character key built
# from five or fewer distinct characters can reach 80 (32 x log2 5 = 74.3 bits).
MIN_SECRET_KEY_ENTROPY_BITS = 80

EMBEDDED_SANDBOX_PATH = "/qbo-sandbox"
# The QBO sandbox's own OAuth client (``oodaloo sandbox``'s defaults; settings may not import the sandbox): known
# to anyone who reads this code, so fine for the embedded default and refused in production.
SANDBOX_QBO_CLIENT_ID = "oodaloo-sandbox-client"
SANDBOX_QBO_CLIENT_SECRET = "oodaloo-sandbox-secret"
SANDBOX_QBO_WEBHOOK_VERIFIER_TOKEN = "oodaloo-sandbox-verifier"
# The digest's sender when none is configured: fine on one machine (the file outbox), refused in production.
DEV_MAIL_FROM = "Oodaloo <digest@oodaloo.localhost>"
EMBEDDED_SANDBOX_IN_PRODUCTION = (
    "OODALOO_EMBEDDED_SANDBOX cannot be enabled in production: the embedded sandbox mints tokens and injects faults "
    "for anyone who asks; run it as its own server (`oodaloo sandbox`) and point OODALOO_QBO_* at it"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OODALOO_", extra="ignore", hide_input_in_errors=True)

    environment: Environment = "development"
    database_url: str = "sqlite+aiosqlite:///./var/oodaloo.db"
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Apply Alembic migrations on start-up. Defaults to on except in production, where several
    # processes start at once and migrations belong to a deploy step (``oodaloo migrate``).
    auto_migrate: bool = True

    # Mount the QBO sandbox at /qbo-sandbox and create the demo user and business. Defaults to on except in
    # production, which refuses it.
    embedded_sandbox: bool = True
    sandbox_scenario: Literal["healthy", "tight", "crisis", "empty"] = "healthy"
    sandbox_state_file: str | None = "./var/sandbox-state.json"
    # Signs loopback visitors without a session in as the demo user, and offers them "Continue as the demo user"
    # on the sign-in page after they sign out. Defaults to on in development only.
    demo_autologin: bool = False

    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # The QBO connection. Left unset, they point at the embedded sandbox on host:port; production must set them.
    qbo_client_id: str = SANDBOX_QBO_CLIENT_ID
    qbo_client_secret: SecretStr = SecretStr(SANDBOX_QBO_CLIENT_SECRET)
    qbo_redirect_uri: str = ""
    qbo_discovery_url: str = ""
    qbo_api_base_url: str = ""
    # Keys the HMAC in each webhook's ``intuit-signature`` (the Intuit portal's webhooks page; not the client secret).
    qbo_webhook_verifier_token: SecretStr = SecretStr(SANDBOX_QBO_WEBHOOK_VERIFIER_TOKEN)
    # Fernet keys encrypting QBO tokens at rest, comma-separated, newest first (rotation: prepend a new key).
    # Required in production; elsewhere, when unset, a key is derived from secret_key.
    encryption_keys: SecretStr | None = None

    # Exactly-once QBO actions (SmartSync's action log). How long a user waits on QuickBooks for one action before
    # the answer becomes "being confirmed" (202) and the reconciler takes over.
    action_deadline_seconds: float = Field(default=8.0, gt=0, le=120)
    # An in-flight/pending action untouched this long is taken to belong to a dead process (unset: 300 s).
    reconcile_stale_seconds: float | None = Field(default=None, gt=0)
    # The lease a process holds on an action it is sending, renewed while it runs: a dead process's actions are taken
    # over once it runs out (unset: 30 s).
    action_lease_seconds: float | None = Field(default=None, gt=0)
    # Base of the exponential backoff between checks of an unconfirmed action (unset: 5 s).
    reconcile_backoff_seconds: float | None = Field(default=None, gt=0)
    # How often the embedded app sweeps for due reconciliations (``oodaloo scheduler`` uses the queue's interval).
    sweep_interval_seconds: float = Field(default=15.0, gt=0)
    # The sweep also keeps every connected business's mirror fresh (the freshness policy's periodic CDC, and webhook
    # news whose sync request was lost). Off only where nothing may call QBO unasked (tests that count calls).
    mirror_sweep: bool = True
    # ``oodaloo worker`` serves SmartSync's metrics (its QBO calls, throttles, retries, breakers, sync times) for
    # Prometheus at http://worker_metrics_host:worker_metrics_port/metrics; unset: not served.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # The Friday digest and mail. Links in mail point at public_base_url (unset: http://host:port; production must
    # set it). With smtp_host set, mail goes out by SMTP (required in production); without it, each message is written
    # as an .eml file under outbox_dir and shown at /outbox (the embedded default). The digest goes out on Friday at
    # digest_send_hour in each business's own time zone, from the sweep; digest_schedule is off by default only in the
    # test environment, where many apps share one database and the clock is the real one.
    public_base_url: str = ""
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # STARTTLS before authenticating (a relay on loopback without TLS is the exception: turn it off there).
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    mail_from: str = DEV_MAIL_FROM
    outbox_dir: str = "var/outbox"
    digest_send_hour: int = Field(default=7, ge=0, le=23)
    digest_schedule: bool = True

    # The test drive (/test-drive): without an account, a visitor drives a demo scenario's company of their own, made
    # in a QBO sandbox through its admin paths, or connects their own QuickBooks company read-only. The scenarios need
    # that sandbox: test_drive_sandbox_url, its base URL, which must be where OODALOO_QBO_API_BASE_URL points (a trial's
    # company is reached through the app's one QBO connection); unset, the embedded sandbox when it is mounted, else
    # the scenarios are off (production never mounts it: there they need a standalone `oodaloo sandbox` named here).
    # A trial and everything in it is removed test_drive_lifetime_hours after it starts; test_drive_pool_size
    # companies of each scenario are kept made and synced once someone opened the page, so a click costs no sync; at
    # most test_drive_max_trials run at once.
    test_drive_sandbox_url: str = ""
    test_drive_lifetime_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    test_drive_pool_size: int = Field(default=1, ge=0, le=20)
    test_drive_max_trials: int = Field(default=200, ge=1)

    @model_validator(mode="after")
    def _check_test_drive_sandbox(self) -> Settings:
        named = self.test_drive_sandbox_url.rstrip("/")
        if named and named != self.qbo_api_base_url.rstrip("/"):
            raise ValueError(
                "OODALOO_TEST_DRIVE_SANDBOX_URL must be where OODALOO_QBO_API_BASE_URL points: the test drive's "
                "companies are made in that sandbox and reached through the app's one QBO connection"
            )
        return self

    @property
    def test_drive_sandbox(self) -> str | None:
        """Where the test drive makes its scenarios' companies; None when they are off."""
        if self.test_drive_sandbox_url:
            return self.test_drive_sandbox_url.rstrip("/")
        if self.embedded_sandbox and self.environment != "production":
            return self.qbo_api_base_url.rstrip("/")
        return None

    @model_validator(mode="before")
    @classmethod
    def _environment_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            environment = data.get("environment", "development")
            data.setdefault("demo_autologin", environment == "development")
            data.setdefault("auto_migrate", environment != "production")
            data.setdefault("embedded_sandbox", environment != "production")
            data.setdefault("digest_schedule", environment != "test")
            own_base = f"http://{data.get('host', '127.0.0.1')}:{data.get('port', 8000)}"
            sandbox_base = own_base + EMBEDDED_SANDBOX_PATH
            defaults = [("qbo_redirect_uri", own_base + "/qbo/callback")]
            if environment != "production":  # production never mounts the sandbox these would point at
                defaults += [
                    ("public_base_url", own_base),
                    ("qbo_api_base_url", sandbox_base),
                    ("qbo_discovery_url", sandbox_base + "/.well-known/openid_configuration"),
                ]
            for key, default in defaults:
                if not data.get(key):
                    data[key] = default
        return data

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and (problems := self._production_problems()):
            # One message naming every problem, a line each, so a deploy is fixed in one go; no value is ever quoted
            # (secrets).
            raise ValueError("\n".join(problems))
        return self

    def _production_problems(self) -> list[str]:
        problems: list[str] = []
        key = self.secret_key.get_secret_value()
        if len(key) < MIN_SECRET_KEY_LENGTH or any(fragment in key.lower() for fragment in PLACEHOLDER_FRAGMENTS):
            problems.append(
                f"OODALOO_SECRET_KEY must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters "
                "in production (placeholders are refused)"
            )
        elif estimated_entropy_bits(key) < MIN_SECRET_KEY_ENTROPY_BITS:
            problems.append(
                f"OODALOO_SECRET_KEY is too predictable for production: it is made of too few distinct "
                f"characters (estimated below {MIN_SECRET_KEY_ENTROPY_BITS} bits of entropy); generate one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
            )
        if self.demo_autologin:
            problems.append("OODALOO_DEMO_AUTOLOGIN cannot be enabled in production")
        if self.embedded_sandbox:
            problems.append(EMBEDDED_SANDBOX_IN_PRODUCTION)
        if self.encryption_keys is None or not self.encryption_keys.get_secret_value().strip():
            problems.append(
                "OODALOO_ENCRYPTION_KEYS must be set in production (comma-separated Fernet keys, newest first; "
                "generate one with cryptography's Fernet.generate_key())"
            )
        if self.qbo_client_id == SANDBOX_QBO_CLIENT_ID:
            problems.append(
                "OODALOO_QBO_CLIENT_ID must be your Intuit app's client id in production, not the sandbox's"
            )
        if self.qbo_client_secret.get_secret_value() == SANDBOX_QBO_CLIENT_SECRET:
            problems.append(
                "OODALOO_QBO_CLIENT_SECRET must be your Intuit app's client secret in production, not the sandbox's"
            )
        if self.qbo_webhook_verifier_token.get_secret_value() in ("", SANDBOX_QBO_WEBHOOK_VERIFIER_TOKEN):
            problems.append(
                "OODALOO_QBO_WEBHOOK_VERIFIER_TOKEN must be your Intuit app's webhook verifier token in production, "
                "not the sandbox's"
            )
        if not self.qbo_api_base_url or not self.qbo_discovery_url:
            problems.append(
                "OODALOO_QBO_API_BASE_URL and OODALOO_QBO_DISCOVERY_URL must be set in production (Intuit's, or a "
                "standalone `oodaloo sandbox`): their defaults point at the embedded sandbox, never mounted there"
            )
        problems += self._mail_problems()
        return problems

    def _mail_problems(self) -> list[str]:
        problems: list[str] = []
        if not self.smtp_host:
            problems.append(
                "OODALOO_SMTP_HOST must be set in production: the Friday digest is sent by SMTP there (the file "
                "outbox is for the embedded default only)"
            )
        if self.mail_from == DEV_MAIL_FROM:
            problems.append("OODALOO_MAIL_FROM must be set in production: the address the digest is sent from")
        if not self.public_base_url.startswith(("https://", "http://")):
            problems.append(
                "OODALOO_PUBLIC_BASE_URL must be set in production (e.g. https://oodaloo.example.com): the links in "
                "the digest point there"
            )
        return problems

    @model_validator(mode="after")
    def _check_encryption_keys(self) -> Settings:
        for key in (self.encryption_keys.get_secret_value() if self.encryption_keys else "").split(","):
            if key.strip() and not _is_fernet_key(key.strip()):
                # The value itself stays out of the message: it is a secret.
                raise ValueError(
                    "OODALOO_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)"
                )
        return self

    @property
    def is_development(self) -> bool:
        return self.environment == "development"


def estimated_entropy_bits(value: str) -> float:
    """``len(value)`` times the Shannon entropy of its character frequencies: 0 for ``"aaaa…"``, 5 bits a character
    for 32 distinct characters. Blind to order, so an upper bound for a patterned value; see
    MIN_SECRET_KEY_ENTROPY_BITS for how it undercounts a short random one."""
    length = len(value)
    return -sum(count * math.log2(count / length) for count in Counter(value).values())


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
