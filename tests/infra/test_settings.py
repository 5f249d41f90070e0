"""Settings: the embedded default with nothing set, environment overrides, and fail-fast production checks."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from oodaloo.settings import Settings

STRONG_KEY = "k3Jq9VZp0rX2mN8bT4wY6cL1fH5sD7gA"


@pytest.fixture(autouse=True)
def _no_oodaloo_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        "OODALOO_ENVIRONMENT",
        "OODALOO_DATABASE_URL",
        "OODALOO_SECRET_KEY",
        "OODALOO_DEMO_AUTOLOGIN",
        "OODALOO_PORT",
    ]:
        monkeypatch.delenv(name, raising=False)


def test_embedded_default() -> None:
    settings = Settings()
    assert settings.environment == "development"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.embedded_sandbox
    assert settings.demo_autologin
    assert settings.auto_migrate
    assert settings.qbo_api_base_url == "http://127.0.0.1:8000/qbo-sandbox"


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OODALOO_DATABASE_URL", "postgresql+asyncpg://app@db/oodaloo")
    monkeypatch.setenv("OODALOO_PORT", "9000")
    monkeypatch.setenv("OODALOO_ENVIRONMENT", "test")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://app@db/oodaloo"
    assert settings.port == 9000
    assert not settings.demo_autologin  # on by default only in development
    assert settings.qbo_discovery_url == "http://127.0.0.1:9000/qbo-sandbox/.well-known/openid_configuration"


@pytest.mark.parametrize(
    "secret_key",
    [None, "dev-insecure-secret-key-change-me", "short-random-Zq8", "changeme-changeme-changeme-changeme"],
)
def test_production_refuses_placeholder_or_short_secret_keys(secret_key: str | None) -> None:
    overrides: dict[str, Any] = {} if secret_key is None else {"secret_key": secret_key}
    with pytest.raises(ValidationError, match="OODALOO_SECRET_KEY") as raised:
        Settings(environment="production", **overrides)
    assert secret_key is None or secret_key not in str(raised.value)


def test_production_accepts_a_strong_key_and_turns_dev_conveniences_off() -> None:
    keys = Fernet.generate_key().decode()
    settings = Settings(environment="production", secret_key=STRONG_KEY, encryption_keys=keys)
    assert not settings.demo_autologin
    assert not settings.auto_migrate
    with pytest.raises(ValidationError, match="DEMO_AUTOLOGIN"):
        Settings(environment="production", secret_key=STRONG_KEY, encryption_keys=keys, demo_autologin=True)
