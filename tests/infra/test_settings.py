"""Settings: the embedded default with nothing set, environment overrides, and fail-fast production checks (no
embedded sandbox, no weak or sandbox secrets, and no secret ever echoed in the refusal)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oodaloo.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from oodaloo.settings import (
    MIN_SECRET_KEY_ENTROPY_BITS,
    SANDBOX_QBO_CLIENT_ID,
    SANDBOX_QBO_CLIENT_SECRET,
    Settings,
    estimated_entropy_bits,
)
from tests.support.production import STRONG_SECRET_KEY, production_settings, production_values

STRONG_KEY = STRONG_SECRET_KEY


@pytest.fixture(autouse=True)
def _no_oodaloo_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        "OODALOO_ENVIRONMENT",
        "OODALOO_DATABASE_URL",
        "OODALOO_SECRET_KEY",
        "OODALOO_DEMO_AUTOLOGIN",
        "OODALOO_EMBEDDED_SANDBOX",
        "OODALOO_ENCRYPTION_KEYS",
        "OODALOO_QBO_CLIENT_ID",
        "OODALOO_QBO_CLIENT_SECRET",
        "OODALOO_QBO_API_BASE_URL",
        "OODALOO_QBO_DISCOVERY_URL",
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
    settings = production_settings()
    assert not settings.demo_autologin
    assert not settings.auto_migrate
    assert not settings.embedded_sandbox
    with pytest.raises(ValidationError, match="DEMO_AUTOLOGIN"):
        production_settings(demo_autologin=True)


def test_production_refuses_the_embedded_sandbox_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in production_values().items():
        monkeypatch.setenv(f"OODALOO_{name.upper()}", value)
    assert not Settings().embedded_sandbox
    monkeypatch.setenv("OODALOO_EMBEDDED_SANDBOX", "true")
    with pytest.raises(ValidationError, match="OODALOO_EMBEDDED_SANDBOX cannot be enabled in production") as raised:
        Settings()
    assert "oodaloo sandbox" in str(raised.value)  # says what to do instead


def test_estimated_entropy_counts_distinct_characters_and_their_spread() -> None:
    assert estimated_entropy_bits("a" * 32) == 0
    assert estimated_entropy_bits("ab" * 16) == 32
    assert estimated_entropy_bits("abcd" * 8) == 64
    assert estimated_entropy_bits(STRONG_KEY) == 160  # 32 distinct characters: 5 bits each


@pytest.mark.parametrize(
    "weak_key",
    [
        "a" * 32,
        "a" * 64,
        "ab" * 16,
        "abcd" * 8,  # 64 bits by the estimate
        "01234" * 6 + "01",  # 32 characters of 5 distinct: at most 32 x log2(5) = 74.3 bits
    ],
)
def test_production_refuses_low_entropy_secret_keys_without_echoing_them(weak_key: str) -> None:
    assert estimated_entropy_bits(weak_key) < MIN_SECRET_KEY_ENTROPY_BITS
    with pytest.raises(ValidationError, match="OODALOO_SECRET_KEY is too predictable") as raised:
        production_settings(secret_key=weak_key)
    assert weak_key not in str(raised.value)


@pytest.mark.parametrize(
    "random_key",
    [
        STRONG_KEY,
        "9f86d081884c7d659a2feaa0c55ad015",  # 32 hex digits (128 random bits), as `openssl rand -hex 16` gives
        "lS0mGQx1b3Yq8XzvN3rT5pWc7eJd2hKa9uFo4iBn6Mg",  # secrets.token_urlsafe(32)
    ],
)
def test_production_accepts_random_secret_keys(random_key: str) -> None:
    assert production_settings(secret_key=random_key).secret_key.get_secret_value() == random_key


def test_the_refused_credentials_are_the_sandboxs_own() -> None:
    assert (SANDBOX_QBO_CLIENT_ID, SANDBOX_QBO_CLIENT_SECRET) == (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("qbo_client_id", "OODALOO_QBO_CLIENT_ID must be your Intuit app's client id"),
        ("qbo_client_secret", "OODALOO_QBO_CLIENT_SECRET must be your Intuit app's client secret"),
    ],
)
def test_production_refuses_the_sandbox_qbo_credentials_without_echoing_them(field: str, message: str) -> None:
    sandbox_value = {"qbo_client_id": SANDBOX_QBO_CLIENT_ID, "qbo_client_secret": SANDBOX_QBO_CLIENT_SECRET}[field]
    with pytest.raises(ValidationError, match=message) as raised:
        production_settings(**{field: sandbox_value})
    assert SANDBOX_QBO_CLIENT_SECRET not in str(raised.value)
    # Left unset, they default to the sandbox's, so production must name its own Intuit app.
    values = production_values()
    del values[field]
    with pytest.raises(ValidationError, match=message):
        Settings(**values)


def test_production_needs_its_qbo_endpoints_set() -> None:
    values = production_values()
    del values["qbo_api_base_url"], values["qbo_discovery_url"]
    with pytest.raises(ValidationError, match="OODALOO_QBO_API_BASE_URL and OODALOO_QBO_DISCOVERY_URL must be set"):
        Settings(**values)


def test_production_names_every_problem_at_once() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(environment="production", secret_key="b" * 32, embedded_sandbox=True)
    message = str(raised.value)
    for setting in ("SECRET_KEY", "EMBEDDED_SANDBOX", "ENCRYPTION_KEYS", "QBO_CLIENT_ID", "QBO_CLIENT_SECRET"):
        assert f"OODALOO_{setting}" in message
    assert "b" * 32 not in message
