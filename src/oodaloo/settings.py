"""Application settings from ``OODALOO_*`` environment variables; with none set, the embedded default."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
MIN_SECRET_KEY_LENGTH = 32
# Fragments that betray a placeholder someone forgot to replace.
PLACEHOLDER_FRAGMENTS = ("change-me", "changeme", "insecure", "placeholder", "secret-key", "example")

EMBEDDED_SANDBOX_PATH = "/qbo-sandbox"


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

    embedded_sandbox: bool = True
    sandbox_scenario: Literal["healthy", "tight", "crisis"] = "healthy"
    sandbox_state_file: str | None = "./var/sandbox-state.json"
    # Signs loopback visitors without a session in as the demo user. Defaults to on in development only.
    demo_autologin: bool = False

    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # QBO connection (used by a later issue). Left unset, they point at the embedded sandbox on host:port.
    qbo_client_id: str = "oodaloo-sandbox-client"
    qbo_client_secret: SecretStr = SecretStr("oodaloo-sandbox-secret")
    qbo_redirect_uri: str = ""
    qbo_discovery_url: str = ""
    qbo_api_base_url: str = ""
    # Fernet keys encrypting QBO tokens at rest, comma-separated, newest first (rotation: prepend a new key).
    # Required in production; elsewhere, when unset, a key is derived from secret_key.
    encryption_keys: SecretStr | None = None

    # Exactly-once QBO actions (SmartSync's action log). How long a user waits on QuickBooks for one action before
    # the answer becomes "being confirmed" (202) and the reconciler takes over.
    action_deadline_seconds: float = Field(default=8.0, gt=0, le=120)
    # An in-flight/pending action untouched this long is taken to belong to a dead process (unset: 300 s).
    reconcile_stale_seconds: float | None = Field(default=None, gt=0)
    # Base of the exponential backoff between checks of an unconfirmed action (unset: 5 s).
    reconcile_backoff_seconds: float | None = Field(default=None, gt=0)
    # How often the embedded app sweeps for due reconciliations (``oodaloo scheduler`` uses the queue's interval).
    sweep_interval_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _environment_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            is_development = data.get("environment", "development") == "development"
            data.setdefault("demo_autologin", is_development)
            data.setdefault("auto_migrate", data.get("environment", "development") != "production")
            own_base = f"http://{data.get('host', '127.0.0.1')}:{data.get('port', 8000)}"
            sandbox_base = own_base + EMBEDDED_SANDBOX_PATH
            for key, default in (
                ("qbo_api_base_url", sandbox_base),
                ("qbo_discovery_url", sandbox_base + "/.well-known/openid_configuration"),
                ("qbo_redirect_uri", own_base + "/qbo/callback"),
            ):
                if not data.get(key):
                    data[key] = default
        return data

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment != "production":
            return self
        key = self.secret_key.get_secret_value()
        if len(key) < MIN_SECRET_KEY_LENGTH or any(fragment in key.lower() for fragment in PLACEHOLDER_FRAGMENTS):
            raise ValueError(
                f"OODALOO_SECRET_KEY must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters "
                "in production (placeholders are refused)"
            )
        if self.demo_autologin:
            raise ValueError("OODALOO_DEMO_AUTOLOGIN cannot be enabled in production")
        if self.encryption_keys is None or not self.encryption_keys.get_secret_value().strip():
            raise ValueError(
                "OODALOO_ENCRYPTION_KEYS must be set in production (comma-separated Fernet keys, newest first; "
                "generate one with cryptography's Fernet.generate_key())"
            )
        return self

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


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
